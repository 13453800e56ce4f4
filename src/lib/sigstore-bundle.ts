// Verifying a Sigstore bundle (DSSE envelope) through sigstore-js (@sigstore/bundle parses and
// validates the bundle, @sigstore/verify checks the signature, the certificate chain and the
// signer's identity), offline:
// - key-based bundles against configured public keys;
// - certificate-based bundles (a leaf certificate, as OpenSSF model signing's `sign certificate`
//   or a private Fulcio makes) against a configured CA chain and the expected identity.
// Neither kind is checked against a transparency log, an SCT or a timestamp authority (none is
// reachable from here), so those thresholds are 0; and as a bundle then carries no trusted time
// of signing, keys and certificates are judged at the moment of verification.
import { createHash, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { bundleFromJSON, isBundleWithDsseEnvelope } from '@sigstore/bundle';
import { PolicyError, type SignedEntity, toSignedEntity, toTrustMaterial, type TrustMaterial, Verifier } from '@sigstore/verify';

export interface TrustedKey {
  /** sha256 of the key's SubjectPublicKeyInfo (DER), hex, first 16: how logs and records name it. */
  id: string;
  key: KeyObject;
  /** ISO 8601: after this instant the key verifies nothing (it may have been rotated out or leaked). */
  validUntil?: string;
}

/**
 * A signer trusted through a certificate: the leaf must chain to `chain` (a root, and any
 * intermediates) and name `subjectAlternativeName` exactly; with `issuer`, the certificate's
 * OIDC-issuer extension (as Fulcio writes it) must equal it too.
 */
export interface TrustedIdentity {
  /** DER of each certificate of the configured chain, in the order given. */
  chain: Buffer[];
  subjectAlternativeName: string;
  issuer?: string;
}

/** What a bundle may verify with: public keys and certificate identities. */
export interface SigningTrust {
  keys: readonly TrustedKey[];
  identities: readonly TrustedIdentity[];
}

export class BundleError extends Error {
  readonly code: string = 'SIGNATURE_INVALID';
}

/** The signature verifies, but only with a key past its validUntil. */
export class KeyExpiredError extends BundleError {
  override readonly code = 'SIGNATURE_KEY_EXPIRED';
}

/** The signing certificate is outside its validity period at the moment of verification. */
export class CertificateExpiredError extends BundleError {
  override readonly code = 'SIGNATURE_CERTIFICATE_EXPIRED';
}

/** The certificate chains to a configured CA but names another signer than the one expected. */
export class IdentityMismatchError extends BundleError {
  override readonly code = 'SIGNATURE_IDENTITY_MISMATCH';
}

function keyIdOf(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

export function trustedKey(pem: string | Buffer, validUntil?: string): TrustedKey {
  const key = createPublicKey(pem);
  return { id: keyIdOf(key), key, ...(validUntil ? { validUntil } : {}) };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * A certificate identity from a PEM file holding the CA chain (the root and any intermediates;
 * a bundle's own intermediates are not trusted). Throws when the file holds no certificate or one
 * that does not parse.
 */
export function trustedIdentity(caPem: string | Buffer, subjectAlternativeName: string, issuer?: string): TrustedIdentity {
  const blocks = caPem.toString().match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate in it');
  const chain = blocks.map((pem) => {
    const cert = new X509Certificate(pem);
    if (!cert.ca) throw new Error(`${cert.subject.replace(/\n/g, ', ')} is not a CA certificate`);
    return cert.raw;
  });
  return { chain, subjectAlternativeName, ...(issuer ? { issuer } : {}) };
}

export interface VerifiedBundle {
  /** The key that verified it: a trusted key's id, or the id of the certificate's key. */
  keyId: string;
  /** For a certificate-based bundle: the signer's identity as the certificate names it. */
  identity?: { subjectAlternativeName: string; issuer?: string };
  payloadType: string;
  payload: Buffer;
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
 * Checks the bundle's signature against the trusted keys (a key-based bundle) or the trusted
 * certificate identities (a certificate-based one); returns the signed payload and who verified it.
 * Throws BundleError when the bundle is malformed, is not a DSSE bundle, or nothing trusted
 * verifies it.
 */
export function verifyDsseBundle(json: unknown, trust: SigningTrust, now: Date = new Date()): VerifiedBundle {
  let bundle: ReturnType<typeof bundleFromJSON>;
  try {
    bundle = bundleFromJSON(json);
  } catch (err) {
    throw new BundleError(`not a valid Sigstore bundle: ${(err as Error).message}`);
  }
  if (!isBundleWithDsseEnvelope(bundle))
    throw new BundleError('the bundle signs a message, not a DSSE envelope (model signatures are DSSE)');
  const envelope = bundle.content.dsseEnvelope;
  const entity = toSignedEntity(bundle);
  const signed = { payloadType: envelope.payloadType, payload: envelope.payload };
  if (entity.key.$case === 'certificate') {
    return {
      ...verifyCertificateBundle(entity, entity.key.certificate, bundle.verificationMaterial.tlogEntries.length, trust.identities, now),
      ...signed,
    };
  }
  return { keyId: verifyKeyBundle(entity, trust.keys, now), ...signed };
}

function verifyKeyBundle(entity: SignedEntity, keys: readonly TrustedKey[], now: Date): string {
  if (keys.length === 0) throw new BundleError('no trusted signing keys are configured (signing.trustedKeys)');
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
    return trusted.id;
  }
  if (expired) {
    throw new KeyExpiredError(
      `the signature verifies only with key ${expired.id}, which expired at ${expired.validUntil} (it is ${now.toISOString()}); a key-based bundle carries no trusted signing time, so it counts only while its key is valid`,
    );
  }
  throw new BundleError(`no trusted key verifies the signature (trusted: ${keys.map((k) => k.id).join(', ')})`);
}

const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A certificate-based bundle: the leaf must chain to a configured CA, be valid now, and name the
 * configured identity. @sigstore/verify checks the chain at each of the entity's verified
 * timestamps and, with none, checks no chain at all; a bundle verified here carries none that
 * could be trusted (no Rekor or TSA key is configured), so the moment of verification is given
 * as the one timestamp, in the shape of a log entry's integrated time (it is not one: the
 * bundle's own log entries and timestamps are refused before, as nothing here can check them).
 * As OpenSSF model signing's certificate verifier asks, the leaf must be meant for signing: key
 * usage digitalSignature or extended key usage codeSigning.
 */
function verifyCertificateBundle(
  entity: SignedEntity,
  certificate: Extract<SignedEntity['key'], { $case: 'certificate' }>['certificate'],
  tlogEntries: number,
  identities: readonly TrustedIdentity[],
  now: Date,
): Omit<VerifiedBundle, 'payloadType' | 'payload'> {
  if (identities.length === 0)
    throw new BundleError(
      'the bundle is signed with a certificate and no certificate identities are configured (signing.certificateIdentities)',
    );
  if (tlogEntries > 0 || entity.timestamps.some((t) => t.$case === 'timestamp-authority'))
    throw new BundleError(
      'the bundle carries a transparency-log entry or an RFC 3161 timestamp (a keyless, Fulcio and Rekor, signature); those need a trusted log or timestamp authority this service does not reach, so only certificate bundles without them are verified here',
    );
  const leaf = new X509Certificate(certificate.root.toDER());
  const subject = certificate.subjectAltName ?? '(no subject alternative name)';
  if (now.getTime() < Date.parse(leaf.validFrom) || now.getTime() > Date.parse(leaf.validTo)) {
    throw new CertificateExpiredError(
      `the signing certificate for ${subject} is valid from ${new Date(leaf.validFrom).toISOString()} to ${new Date(leaf.validTo).toISOString()}, not now (${now.toISOString()}); a certificate bundle without a trusted timestamp counts only while its certificate is valid`,
    );
  }
  if (leaf.ca) throw new BundleError('the signing certificate is a CA certificate, not a signer');
  if (!certificate.extKeyUsage?.digitalSignature && !(leaf.keyUsage ?? []).includes(CODE_SIGNING))
    throw new BundleError(
      'the signing certificate is not meant for signing (neither key usage digitalSignature nor extended key usage codeSigning)',
    );
  const withNow: SignedEntity = {
    ...entity,
    timestamps: [
      {
        $case: 'transparency-log',
        tlogEntry: {
          logIndex: '0',
          logId: { keyId: Buffer.alloc(0) },
          kindVersion: { kind: '', version: '' },
          integratedTime: String(Math.floor(now.getTime() / 1000)),
          inclusionPromise: { signedEntryTimestamp: Buffer.alloc(0) },
          inclusionProof: undefined,
          canonicalizedBody: Buffer.alloc(0),
        },
      },
    ],
  };
  const problems: string[] = [];
  const mismatches: string[] = [];
  for (const identity of identities) {
    const material = toTrustMaterial(
      {
        mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        tlogs: [],
        ctlogs: [],
        timestampAuthorities: [],
        certificateAuthorities: [
          {
            subject: undefined,
            uri: '',
            operator: '',
            certChain: { certificates: identity.chain.map((rawBytes) => ({ rawBytes })) },
            validFor: undefined,
          },
        ],
      },
      {},
    );
    const policy = {
      subjectAlternativeName: `^${escapeRegExp(identity.subjectAlternativeName)}$`,
      ...(identity.issuer ? { extensions: { issuer: identity.issuer } } : {}),
    };
    let signer: ReturnType<Verifier['verify']>;
    try {
      signer = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 1 }).verify(withNow, policy);
    } catch (err) {
      // The policy is checked last: a PolicyError means chain and signature verified.
      if (err instanceof PolicyError) mismatches.push((err as Error).message);
      else problems.push((err as Error).message + ((err as Error).cause ? ` (${((err as Error).cause as Error).message})` : ''));
      continue;
    }
    const issuer = signer.identity?.extensions?.issuer;
    return {
      keyId: keyIdOf(signer.key),
      identity: { subjectAlternativeName: identity.subjectAlternativeName, ...(issuer ? { issuer } : {}) },
    };
  }
  if (mismatches.length > 0) {
    throw new IdentityMismatchError(
      `the signing certificate (for ${subject}) chains to a configured CA but is not a configured signer: ${[...new Set(mismatches)].join('; ')}`,
    );
  }
  throw new BundleError(
    `the signing certificate does not verify against any configured CA (a CA file holds the root and every intermediate; a bundle's own are not trusted): ${[...new Set(problems)].join('; ')}`,
  );
}
