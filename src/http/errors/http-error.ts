// A refusal raised by the HTTP layer itself (no route, a method not allowed, an unsatisfiable
// Range, a protocol's own error): it knows its status and may carry headers. Everything below
// http raises plain DomainErrors, whose status the edge derives from their kind (refusal.ts).
import { DomainError, type ErrorKind } from '../../domain/errors.js';

export type Headers = Record<string, string>;

const KIND_BY_STATUS: Record<number, ErrorKind> = {
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'not_allowed',
  409: 'conflict',
  413: 'too_large',
  416: 'out_of_range',
  502: 'dependency_failed',
  503: 'unavailable',
};

export class HttpError extends DomainError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    details?: unknown,
    readonly headers?: Headers,
  ) {
    super(KIND_BY_STATUS[status] ?? 'invalid', code, message, details);
  }
}
