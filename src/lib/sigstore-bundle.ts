// Verifying a Sigstore bundle (DSSE envelope) signed with a key, through sigstore-js
// (@sigstore/bundle parses and validates the bundle, @sigstore/verify checks the signature). Key-
// based bundles carry no Fulcio certificate, transparency-log entry or timestamp, so those
// thresholds are 0 here; the trust is in the configured keys alone.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { bundleFromJSON, isBundleWithDsseEnvelope } from '@sigstore/bundle';
import { toSignedEntity, type TrustMaterial, Verifier } from '@sigstore/verify';

export interface TrustedKey {
  /** sha256 of the key's SubjectPublicKeyInfo (DER), hex, first 16: how logs and records name it. */
  id: string;
  key: KeyObject;
}

export class BundleError extends Error {}

export function trustedKey(pem: string | Buffer): TrustedKey {
  const key = createPublicKey(pem);
  const der = key.export({ type: 'spki', format: 'der' });
  return { id: createHash('sha256').update(der).digest('hex').slice(0, 16), key };
}

/**
 * Checks the bundle's signature against each trusted key in turn; returns the signed payload and
 * the key that verified it. Throws BundleError when the bundle is malformed, is not a DSSE bundle,
 * names a certificate instead of a key, or no trusted key verifies it.
 */
export function verifyDsseBundle(json: unknown, keys: readonly TrustedKey[]): { keyId: string; payloadType: string; payload: Buffer } {
  let bundle: ReturnType<typeof bundleFromJSON>;
  try {
    bundle = bundleFromJSON(json);
  } catch (err) {
    throw new BundleError(`not a valid Sigstore bundle: ${(err as Error).message}`);
  }
  if (!isBundleWithDsseEnvelope(bundle))
    throw new BundleError('the bundle signs a message, not a DSSE envelope (model signatures are DSSE)');
  if (bundle.verificationMaterial.content.$case !== 'publicKey') {
    throw new BundleError(
      'the bundle carries a certificate; only key-based bundles are verified here (certificate and keyless bundles need a timestamp authority or transparency log this service does not reach)',
    );
  }
  if (keys.length === 0) throw new BundleError('no trusted signing keys are configured (signing.trustedKeys)');
  const entity = toSignedEntity(bundle);
  for (const trusted of keys) {
    const material: TrustMaterial = {
      certificateAuthorities: [],
      timestampAuthorities: [],
      tlogs: [],
      ctlogs: [],
      publicKey: () => ({ publicKey: trusted.key, validFor: () => true }),
    };
    try {
      new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
    } catch {
      continue;
    }
    const envelope = bundle.content.dsseEnvelope;
    return { keyId: trusted.id, payloadType: envelope.payloadType, payload: envelope.payload };
  }
  throw new BundleError(`no trusted key verifies the signature (trusted: ${keys.map((k) => k.id).join(', ')})`);
}
