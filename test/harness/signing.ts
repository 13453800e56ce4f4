// Model signatures made the way a signer makes them: an OpenSSF model-signing statement over a
// file list, wrapped by @sigstore/sign's DSSE bundle builder with a key-based signer (ECDSA P-256
// over SHA-256), serialized with @sigstore/bundle.
import { generateKeyPairSync, type KeyObject, sign as cryptoSign } from 'node:crypto';
import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, type Signer } from '@sigstore/sign';
import { IN_TOTO_PAYLOAD_TYPE, modelSigningStatement } from '../../src/domain/model-signing.js';
import type { FileEntry } from '../../src/domain/types.js';

export interface TestKey {
  privateKey: KeyObject;
  publicPem: string;
}

export function keyPair(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function keySigner(key: TestKey): Signer {
  return {
    sign: async (data: Buffer) => ({
      signature: cryptoSign('sha256', data, key.privateKey),
      key: { $case: 'publicKey', publicKey: key.publicPem, hint: 'test-key' },
    }),
  };
}

/** A Sigstore bundle (JSON) signing `statement` with `key`. */
export async function signStatement(key: TestKey, statement: Buffer): Promise<any> {
  const bundle = await new DSSEBundleBuilder({ signer: keySigner(key), witnesses: [] }).create({
    data: statement,
    type: IN_TOTO_PAYLOAD_TYPE,
  });
  return bundleToJSON(bundle);
}

/** The bundle a model signer makes for these files. */
export function signFiles(key: TestKey, modelName: string, files: readonly FileEntry[]): Promise<any> {
  return signStatement(key, modelSigningStatement(modelName, files));
}
