// The distribution spec's error format: {"errors":[{"code","message","detail"}]} with the spec's
// codes. Refusals with modelgate codes (from the registry, the blob store, the shared http layer)
// are mapped onto those codes here; the original code travels in `detail.modelgate` for the curious.
// Every response carries the API version header, and a 401 the Basic challenge clients answer.
import type { Dialect } from './dialect.js';
import { type Headers, HttpError } from './http-error.js';
import type { Refusal } from './refusal.js';

export const API_VERSION = { 'Docker-Distribution-API-Version': 'registry/2.0' };
export const CHALLENGE = 'Basic realm="modelgate"';

export const OCI_CODES = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  // distribution-spec v1.1 spells code-14 without underscores.
  'TOOMANYREQUESTS',
] as const;
export type OciCode = (typeof OCI_CODES)[number];

/** A refusal raised by an OCI route, already in the spec's vocabulary: rendered as it is. */
export class OciError extends HttpError {
  constructor(
    status: number,
    readonly ociCode: OciCode | 'UNKNOWN',
    message: string,
    detail?: unknown,
    headers?: Headers,
  ) {
    super(status, ociCode, message, detail, headers);
  }
}

export const ociError = (status: number, code: OciCode, message: string, detail?: unknown, headers?: Headers) =>
  new OciError(status, code, message, detail, headers);

/** Where an error happened changes what some modelgate codes mean (a body too large, a missing blob). */
export type OciContext = 'base' | 'manifest' | 'blob' | 'upload' | 'tags';

const BY_CODE: Record<string, OciCode> = {
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'DENIED',
  POLICY_UNMET: 'DENIED',
  SEPARATION_OF_DUTIES: 'DENIED',
  NAME_INVALID: 'NAME_INVALID',
  MODEL_NOT_FOUND: 'NAME_UNKNOWN',
  DIGEST_INVALID: 'DIGEST_INVALID',
  DIGEST_MISMATCH: 'DIGEST_INVALID',
  BLOB_NOT_FOUND: 'BLOB_UNKNOWN',
  UPLOAD_NOT_FOUND: 'BLOB_UPLOAD_UNKNOWN',
  UPLOAD_OFFSET_MISMATCH: 'BLOB_UPLOAD_INVALID',
  UPLOAD_BUSY: 'BLOB_UPLOAD_INVALID',
  CONTENT_RANGE_INVALID: 'BLOB_UPLOAD_INVALID',
  CLIENT_ABORTED: 'BLOB_UPLOAD_INVALID',
  CONTENT_RANGE_MISMATCH: 'SIZE_INVALID',
  CONTENT_LENGTH_INVALID: 'SIZE_INVALID',
  RANGE_INVALID: 'SIZE_INVALID',
  RANGE_NOT_SATISFIABLE: 'SIZE_INVALID',
  VERSION_NOT_FOUND: 'MANIFEST_UNKNOWN',
  ALIAS_NOT_FOUND: 'MANIFEST_UNKNOWN',
  ALIAS_INVALID: 'UNSUPPORTED',
  REF_INVALID: 'UNSUPPORTED',
  FILES_INVALID: 'MANIFEST_INVALID',
  MANIFEST_CONFLICT: 'MANIFEST_INVALID',
  VERSION_NUMBER_TAKEN: 'MANIFEST_INVALID',
  JSON_INVALID: 'MANIFEST_INVALID',
  // A manifest that does not parse (src/oci/manifest.ts).
  MANIFEST_INVALID: 'MANIFEST_INVALID',
  VALIDATION_FAILED: 'MANIFEST_INVALID',
  ALIAS_CONFLICT: 'DENIED',
  // A manifest delete the registry's rules refuse (an alias or a stack holds the version, retention keeps it).
  VERSION_IN_USE: 'DENIED',
  VERSION_RETAINED: 'DENIED',
  ROUTE_NOT_FOUND: 'UNSUPPORTED',
  METHOD_NOT_ALLOWED: 'UNSUPPORTED',
  URL_INVALID: 'NAME_INVALID',
  LIMIT_INVALID: 'UNSUPPORTED',
};

function byStatus(status: number): OciCode | 'UNKNOWN' {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return 'NAME_UNKNOWN';
  if (status === 413) return 'SIZE_INVALID';
  if (status === 416) return 'BLOB_UPLOAD_INVALID';
  if (status === 429) return 'TOOMANYREQUESTS';
  if (status >= 400 && status < 500) return 'UNSUPPORTED';
  return 'UNKNOWN';
}

interface SpecError {
  status: number;
  code: OciCode | 'UNKNOWN';
  detail?: unknown;
}

/** The spec's code and status for a refusal; an internal error becomes a 500 that leaks nothing. */
function inSpecTerms(r: Refusal, context: OciContext): SpecError {
  if (r.error instanceof OciError) return { status: r.status, code: r.error.ociCode, detail: r.details };
  if (!r.error) return { status: 500, code: 'UNKNOWN' };
  let code: OciCode | 'UNKNOWN' = BY_CODE[r.code] ?? byStatus(r.status);
  let status = r.status;
  if (r.code === 'BODY_TOO_LARGE') code = context === 'manifest' ? 'MANIFEST_INVALID' : 'SIZE_INVALID';
  if (context === 'manifest' && (r.code === 'BLOB_NOT_FOUND' || r.code === 'FILES_INVALID') && mentionsMissingBlob(r.details)) {
    code = 'MANIFEST_BLOB_UNKNOWN';
    status = 400;
  }
  return { status, code, detail: { modelgate: r.code, ...(r.details !== undefined ? { details: r.details } : {}) } };
}

function mentionsMissingBlob(details: unknown): boolean {
  return (
    Array.isArray(details) &&
    details.some(
      (d) => typeof (d as { problem?: unknown })?.problem === 'string' && /has not been uploaded/.test((d as { problem: string }).problem),
    )
  );
}

export function ociDialect(context: OciContext): Dialect {
  return (r) => {
    const spec = inSpecTerms(r, context);
    const headers: Headers = { 'Content-Type': 'application/json', ...API_VERSION, ...r.headers };
    if (spec.status === 401) headers['WWW-Authenticate'] = CHALLENGE;
    const entry: Record<string, unknown> = { code: spec.code, message: r.message };
    if (spec.detail !== undefined) entry.detail = spec.detail;
    return { status: spec.status, headers, body: Buffer.from(JSON.stringify({ errors: [entry] })) };
  };
}
