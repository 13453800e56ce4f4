// The registry's door for model signatures: a Sigstore bundle is verified against the trusted
// keys or certificate identities, its OpenSSF model-signing statement must list exactly the version's files with their
// digests, and only then is it attached (an audited commit). A signature is evidence: it voids
// no approval; a policy may require one (domain/gate.ts).
import { createHash } from 'node:crypto';
import { badRequest, notFound } from '../domain/errors.js';
import { canonicalJson } from '../domain/canonical-json.js';
import { manifestMismatch, parseModelSigningPayload, type SignatureRecord } from '../domain/model-signing.js';
import type { Actor } from '../domain/types.js';
import { BundleError, type SigningTrust, verifyDsseBundle } from '../lib/sigstore-bundle.js';
import type { ControlStore } from '../store/control-store.js';

export class SignatureRegistry {
  constructor(
    private readonly store: ControlStore,
    private readonly trust: SigningTrust,
  ) {}

  async attach(name: string, number: number, bundle: unknown, actor: Actor): Promise<{ signature: SignatureRecord; created: boolean }> {
    const version = this.store.getVersion(name, number);
    if (!version) throw notFound('VERSION_NOT_FOUND', `model "${name}" has no version ${number}`);
    let verified: ReturnType<typeof verifyDsseBundle>;
    try {
      verified = verifyDsseBundle(bundle, this.trust);
    } catch (err) {
      if (err instanceof BundleError) throw badRequest(err.code, err.message);
      throw err;
    }
    const manifest = parseModelSigningPayload(verified.payloadType, verified.payload);
    const problems = manifestMismatch(manifest, version.files);
    if (problems.length > 0) {
      throw badRequest(
        'SIGNATURE_MISMATCH',
        `the signature is for other files than ${name}@v${number}: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`,
        problems,
      );
    }
    const id = `sha256:${createHash('sha256').update(canonicalJson(bundle)).digest('hex')}`;
    return this.store.attachSignature(
      {
        id,
        name,
        version: number,
        keyId: verified.keyId,
        ...(verified.identity ? { identity: verified.identity } : {}),
        rootDigest: manifest.rootDigest,
        modelName: manifest.modelName,
        bundle,
      },
      actor,
    );
  }

  list(name: string, number: number): SignatureRecord[] {
    if (!this.store.getVersion(name, number)) throw notFound('VERSION_NOT_FOUND', `model "${name}" has no version ${number}`);
    return this.store.listSignatures(name, number);
  }

  get(name: string, number: number, id: string): SignatureRecord {
    const found = this.list(name, number).find((s) => s.id === id);
    if (!found) throw notFound('SIGNATURE_NOT_FOUND', `${name}@v${number} has no signature ${id}`);
    return found;
  }
}
