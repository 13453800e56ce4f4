// The distribution spec's error format: {"errors":[{"code","message","detail"}]} with the spec's
// codes. Errors raised by the shared modelgate layers (ApiError with modelgate codes) are mapped
// onto those codes here; the original code travels in `detail.modelgate` for the curious.
import { ApiError } from '../domain/errors.js';

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

/** An error already expressed in the spec's vocabulary. */
export class OciError extends ApiError {
  constructor(
    status: number,
    readonly ociCode: OciCode | 'UNKNOWN',
    message: string,
    readonly detail?: unknown,
    headers?: Record<string, string>,
  ) {
    super(status, ociCode, message, detail, headers);
  }
}

export const ociError = (status: number, code: OciCode, message: string, detail?: unknown, headers?: Record<string, string>) =>
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
  VALIDATION_FAILED: 'MANIFEST_INVALID',
  ALIAS_CONFLICT: 'DENIED',
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

/** The spec-shaped error for any failure; internal errors become a 500 that leaks nothing. */
export function toOciError(err: unknown, context: OciContext): OciError {
  if (err instanceof OciError) return err;
  if (!(err instanceof ApiError)) return new OciError(500, 'UNKNOWN', 'internal error');
  let code: OciCode | 'UNKNOWN' = BY_CODE[err.code] ?? byStatus(err.status);
  let status = err.status;
  if (err.code === 'BODY_TOO_LARGE') code = context === 'manifest' ? 'MANIFEST_INVALID' : 'SIZE_INVALID';
  if (context === 'manifest' && (err.code === 'BLOB_NOT_FOUND' || err.code === 'FILES_INVALID') && mentionsMissingBlob(err.details)) {
    code = 'MANIFEST_BLOB_UNKNOWN';
    status = 400;
  }
  const detail = { modelgate: err.code, ...(err.details !== undefined ? { details: err.details } : {}) };
  return new OciError(status, code, err.message, detail, err.headers);
}

function mentionsMissingBlob(details: unknown): boolean {
  return (
    Array.isArray(details) &&
    details.some(
      (d) => typeof (d as { problem?: unknown })?.problem === 'string' && /has not been uploaded/.test((d as { problem: string }).problem),
    )
  );
}

/** The response body for one error. */
export function errorBody(err: OciError): Buffer {
  const entry: Record<string, unknown> = { code: err.ociCode, message: err.message };
  if (err.detail !== undefined) entry.detail = err.detail;
  return Buffer.from(JSON.stringify({ errors: [entry] }));
}
