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
  /** ISO 8601: after this instant the key verifies nothing (it may have been rotated out or leaked). */
  validUntil?: string;
}

export class BundleError extends Error {
  readonly code: string = 'SIGNATURE_INVALID';
}

/** The signature verifies, but only with a key past its validUntil. */
export class KeyExpiredError extends BundleError {
  override readonly code = 'SIGNATURE_KEY_EXPIRED';
}

export function trustedKey(pem: string | Buffer, validUntil?: string): TrustedKey {
  const key = createPublicKey(pem);
  const der = key.export({ type: 'spki', format: 'der' });
  return { id: createHash('sha256').update(der).digest('hex').slice(0, 16), key, ...(validUntil ? { validUntil } : {}) };
}

const UNTIL = /^(.+)@([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(?:Z|[+-][0-9]{2}:[0-9]{2}))$/;

/**
 * A key as configured or given on the command line: `FILE`, or `FILE@UNTIL` with UNTIL an
 * RFC 3339 date-time with its offset (`keys/release.pub.pem@2027-01-01T00:00:00Z`). Throws on a
 * date-time that does not parse.
 */
export function keySpec(text: string): { file: string; validUntil?: string } {
  const m = UNTIL.exec(text);
  if (!m) return { file: text };
  const at = Date.parse(m[2]!);
  if (Number.isNaN(at)) throw new Error(`${text}: "${m[2]}" is not a valid date-time`);
  return { file: m[1]!, validUntil: new Date(at).toISOString() };
}

/**
 * Checks the bundle's signature against each trusted key in turn; returns the signed payload and
 * the key that verified it. Throws BundleError when the bundle is malformed, is not a DSSE bundle,
 * names a certificate instead of a key, or no trusted key verifies it.
 */
export function verifyDsseBundle(
  json: unknown,
  keys: readonly TrustedKey[],
  now: Date = new Date(),
): { keyId: string; payloadType: string; payload: Buffer } {
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
  let expired: TrustedKey | undefined;
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
    // A key-based bundle carries no trusted time of signing (no Rekor entry, no RFC 3161 stamp),
    // so the only time it can be judged at is now: past the key's expiry, it proves nothing.
    if (trusted.validUntil !== undefined && now.getTime() > Date.parse(trusted.validUntil)) {
      expired ??= trusted;
      continue;
    }
    const envelope = bundle.content.dsseEnvelope;
    return { keyId: trusted.id, payloadType: envelope.payloadType, payload: envelope.payload };
  }
  if (expired) {
    throw new KeyExpiredError(
      `the signature verifies only with key ${expired.id}, which expired at ${expired.validUntil} (it is ${now.toISOString()}); a key-based bundle carries no trusted signing time, so it counts only while its key is valid`,
    );
  }
  throw new BundleError(`no trusted key verifies the signature (trusted: ${keys.map((k) => k.id).join(', ')})`);
}
