// The OpenSSF model-signing payload (https://github.com/sigstore/model-transparency, predicate
// v1.0): an in-toto Statement whose predicate lists every file of the model with its SHA-256, and
// whose one subject carries the SHA-256 over those digests (raw bytes, in the listed order). No npm
// package reads it, so this small module does: parse it, check it is consistent, compare it with a
// version's registered files, and (for tests and signing tools) build one.
import { createHash } from 'node:crypto';
import { badRequest } from './errors.js';
import type { FileEntry } from './types.js';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const MODEL_SIGNING_PREDICATE = 'https://model_signing/signature/v1.0';

export interface SignedManifest {
  /** The model name the signer gave (its directory name, usually). */
  modelName: string;
  /** sha256 hex over the resources' digests. */
  rootDigest: string;
  resources: { name: string; digest: string }[];
}

/** A verified signature attached to a version: evidence, served beside its files. */
export interface SignatureRecord {
  /** sha256 of the bundle as submitted. */
  id: string;
  name: string;
  version: number;
  /**
   * The key that verified it (sha256 of its SubjectPublicKeyInfo, hex, first 16): a trusted key,
   * or the key of the signing certificate.
   */
  keyId: string;
  /** For a certificate-based bundle: the signer the certificate names, as configured. */
  identity?: { subjectAlternativeName: string; issuer?: string };
  rootDigest: string;
  modelName: string;
  addedAt: string;
  addedBy: string;
  /** The Sigstore bundle (JSON) as submitted. */
  bundle: unknown;
}

const invalid = (message: string) => badRequest('SIGNATURE_INVALID', message);

/** The statement as it arrives: every field unchecked until read. */
interface Statement {
  _type?: unknown;
  predicateType?: unknown;
  subject?: { name?: unknown; digest?: { sha256?: unknown } }[];
  predicate?: { resources?: unknown };
}

interface Resource {
  name?: unknown;
  algorithm?: unknown;
  digest?: unknown;
}

/** Reads the signed payload; refuses anything that is not a consistent model-signing v1.0 statement. */
export function parseModelSigningPayload(payloadType: string, payload: Buffer): SignedManifest {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE)
    throw invalid(`the signed payload is "${payloadType.slice(0, 80)}", not ${IN_TOTO_PAYLOAD_TYPE}`);
  let statement: Statement;
  try {
    statement = JSON.parse(payload.toString('utf8')) as Statement;
  } catch {
    throw invalid('the signed payload is not JSON');
  }
  if (statement?._type !== IN_TOTO_STATEMENT_TYPE)
    throw invalid(`the signed payload is not an in-toto ${IN_TOTO_STATEMENT_TYPE} statement`);
  if (statement.predicateType !== MODEL_SIGNING_PREDICATE) {
    throw invalid(`predicate type "${String(statement.predicateType).slice(0, 80)}" is not ${MODEL_SIGNING_PREDICATE}`);
  }
  const subjects = statement?.subject;
  if (!Array.isArray(subjects) || subjects.length !== 1) throw invalid('a model signature has exactly one subject');
  const rootDigest = subjects[0]?.digest?.sha256;
  if (typeof rootDigest !== 'string' || !/^[0-9a-f]{64}$/.test(rootDigest)) throw invalid('the subject has no sha256 digest');
  const raw = statement.predicate?.resources;
  if (!Array.isArray(raw) || raw.length === 0) throw invalid('the predicate lists no resources');
  const hasher = createHash('sha256');
  const resources = raw.map((r: Resource | null) => {
    if (typeof r?.name !== 'string' || r.algorithm !== 'sha256' || typeof r.digest !== 'string' || !/^[0-9a-f]{64}$/.test(r.digest)) {
      throw invalid(`resource ${JSON.stringify(r).slice(0, 120)} is not {name, algorithm: "sha256", digest: <64 hex>}`);
    }
    hasher.update(Buffer.from(r.digest, 'hex'));
    return { name: r.name, digest: r.digest };
  });
  const computed = hasher.digest('hex');
  if (computed !== rootDigest) throw invalid(`the subject digest ${rootDigest} does not match its resources (${computed})`);
  return { modelName: String(subjects[0]!.name ?? ''), rootDigest, resources };
}

/** How the signed file list differs from the registered one; empty when they are equal. */
export function manifestMismatch(signed: SignedManifest, files: readonly FileEntry[]): string[] {
  const problems: string[] = [];
  const registered = new Map(files.map((f) => [f.path, f.digest.replace(/^sha256:/, '')]));
  const seen = new Set<string>();
  for (const r of signed.resources) {
    seen.add(r.name);
    const digest = registered.get(r.name);
    if (digest === undefined) problems.push(`${r.name}: signed but not a file of this version`);
    else if (digest !== r.digest) problems.push(`${r.name}: signed sha256:${r.digest}, registered sha256:${digest}`);
  }
  for (const path of registered.keys()) if (!seen.has(path)) problems.push(`${path}: registered but not signed`);
  return problems;
}

/** The model-signing statement for a file list (what a signer signs), as JSON bytes. */
export function modelSigningStatement(modelName: string, files: readonly FileEntry[]): Buffer {
  const resources = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => ({ name: f.path, algorithm: 'sha256', digest: f.digest.replace(/^sha256:/, '') }));
  const hasher = createHash('sha256');
  for (const r of resources) hasher.update(Buffer.from(r.digest, 'hex'));
  return Buffer.from(
    JSON.stringify({
      _type: IN_TOTO_STATEMENT_TYPE,
      subject: [{ name: modelName, digest: { sha256: hasher.digest('hex') } }],
      predicateType: MODEL_SIGNING_PREDICATE,
      predicate: { serialization: { method: 'files', hash_type: 'sha256', allow_symlinks: false, ignore_paths: [] }, resources },
    }),
  );
}
