// --verify-signature of `modelgate pull`: the trusted keys or certificate identity read from the
// command line, and the check, before any byte is fetched, that a signature of the version verifies
// with them and lists exactly its files. A module of its own, imported only when the flag is given:
// the Sigstore libraries it needs take longer to load than the rest of a pull's start-up.
import { readFile } from 'node:fs/promises';
import type { ModelgateClient, Resolution } from '../../client/index.js';
import { manifestMismatch, parseModelSigningPayload } from '../../domain/model-signing.js';
import {
  keySpec,
  type SigningTrust,
  type TrustedIdentity,
  type TrustedKey,
  trustedIdentity,
  trustedKey,
  verifyDsseBundle,
} from '../../lib/sigstore-bundle.js';
import { USAGE_EXIT_CODE } from '../args.js';
import { CliError } from '../cli-error.js';

export async function readTrust(files: string[], ca?: string, identity?: string, issuer?: string): Promise<SigningTrust> {
  if ((ca === undefined) !== (identity === undefined))
    throw new CliError('--ca and --identity go together: the CA chain and the signer it must certify', USAGE_EXIT_CODE);
  if (issuer !== undefined && identity === undefined) throw new CliError('--issuer needs --ca and --identity', USAGE_EXIT_CODE);
  if (files.length === 0 && ca === undefined)
    throw new CliError(
      "--verify-signature needs the signer's public key (--key FILE) or certificate identity (--ca FILE --identity SAN)",
      USAGE_EXIT_CODE,
    );
  const identities: TrustedIdentity[] = [];
  if (ca !== undefined && identity !== undefined) {
    try {
      identities.push(trustedIdentity(await readFile(ca), identity, issuer));
    } catch (err) {
      throw new CliError(`--ca ${ca} is not a readable PEM CA chain (${(err as Error).message})`, USAGE_EXIT_CODE);
    }
  }
  return { keys: await readKeys(files), identities };
}

async function readKeys(files: string[]): Promise<TrustedKey[]> {
  return Promise.all(
    files.map(async (text) => {
      let spec: { file: string; validUntil?: string };
      try {
        spec = keySpec(text);
      } catch (err) {
        throw new CliError(`--key ${(err as Error).message}`, USAGE_EXIT_CODE);
      }
      try {
        return trustedKey(await readFile(spec.file), spec.validUntil);
      } catch (err) {
        throw new CliError(`--key ${spec.file} is not a readable PEM public key (${(err as Error).message})`, USAGE_EXIT_CODE);
      }
    }),
  );
}

/**
 * Checks on this side, before any byte is fetched, that one of the version's signatures verifies
 * with the given keys or certificate identity and signs exactly its file list; the pull then checks every byte against
 * those digests.
 */
export async function verifySignature(client: ModelgateClient, resolution: Resolution, trust: SigningTrust): Promise<void> {
  const listed = await client.listSignatures(resolution.name, resolution.version);
  const problems: string[] = [];
  for (const s of listed) {
    try {
      const verified = verifyDsseBundle(await client.signatureBundle(resolution.name, resolution.version, s.id), trust);
      const mismatch = manifestMismatch(parseModelSigningPayload(verified.payloadType, verified.payload), resolution.files);
      if (mismatch.length === 0) {
        const by = verified.identity ? `the certificate of ${verified.identity.subjectAlternativeName}` : `key ${verified.keyId}`;
        process.stderr.write(`signature ${s.id.slice(0, 19)}… verified with ${by}\n`);
        return;
      }
      problems.push(`${s.id.slice(0, 19)}…: ${mismatch[0]}`);
    } catch (err) {
      problems.push(`${s.id.slice(0, 19)}…: ${(err as Error).message}`);
    }
  }
  throw new CliError(
    listed.length === 0
      ? `${resolution.name}@v${resolution.version} has no signature; nothing was downloaded`
      : `no signature of ${resolution.name}@v${resolution.version} verifies with the given key(s); nothing was downloaded: ${problems.join('; ')}`,
    1,
  );
}
