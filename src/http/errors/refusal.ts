// Step one of the error pipeline: any failure becomes a Refusal, the status, code, message,
// details and headers every dialect starts from. The one place a DomainError's kind becomes an
// HTTP status, and a domain fact (retry later, resume at this offset) becomes a header.
import { AuthError } from '../../auth/authenticator.js';
import { DomainError, type ErrorKind } from '../../domain/errors.js';
import { type Headers, HttpError } from './http-error.js';

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  not_allowed: 405,
  conflict: 409,
  too_large: 413,
  out_of_range: 416,
  dependency_failed: 502,
  unavailable: 503,
};

export interface Refusal {
  status: number;
  code: string;
  message: string;
  details?: unknown;
  headers: Headers;
  /** The error refused with; null for an internal error, which is logged and not described. */
  error: DomainError | null;
}

/** The status a client sees for this error. */
export function statusOf(err: DomainError): number {
  return err instanceof HttpError ? err.status : STATUS_BY_KIND[err.kind];
}

export function toRefusal(err: unknown): Refusal {
  if (!(err instanceof DomainError)) return { status: 500, code: 'INTERNAL', message: 'internal error', headers: {}, error: null };
  return {
    status: statusOf(err),
    code: err.code,
    message: err.message,
    ...(err.details !== undefined ? { details: err.details } : {}),
    headers: { ...derivedHeaders(err), ...(err instanceof HttpError ? err.headers : {}) },
    error: err,
  };
}

function derivedHeaders(err: DomainError): Headers {
  const headers: Headers = {};
  if (err instanceof AuthError) headers['WWW-Authenticate'] = 'Bearer realm="modelgate"';
  if (err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.retryAfterSeconds);
  if (err.code === 'UPLOAD_OFFSET_MISMATCH') {
    // Where a resumable upload stands, so the client resumes there.
    const offset = (err.details as { offset: number }).offset;
    headers.Range = offset > 0 ? `bytes=0-${offset - 1}` : 'bytes=0-0';
    headers['Upload-Offset'] = String(offset);
  }
  return headers;
}
