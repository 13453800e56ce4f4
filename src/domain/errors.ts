/**
 * Every failure a client can see is a DomainError: what kind of failure it is, a stable machine
 * code and a human message, with optional details. It says nothing of HTTP: the edge (src/http/
 * errors/) turns the kind into a status and renders the body in the dialect of the route that
 * failed (v1 JSON, the OCI distribution spec, the Hugging Face Hub).
 */
export type ErrorKind =
  /** The request is malformed or breaks a rule about its own content. */
  | 'invalid'
  /** No credentials, or credentials that name no usable token. */
  | 'unauthenticated'
  /** The caller is known but may not do this (role, scope, policy, separation of duties). */
  | 'forbidden'
  | 'not_found'
  /** The operation does not exist on this resource. */
  | 'not_allowed'
  /** The request conflicts with the current state (a name taken, a final decision, a stale digest). */
  | 'conflict'
  | 'too_large'
  /** A byte range or offset outside what exists. */
  | 'out_of_range'
  /** A dependency refused in a way that retrying will not fix (a bucket's access denied). */
  | 'dependency_failed'
  /** A dependency is unreachable or overloaded, or the control plane cannot commit now: retry later. */
  | 'unavailable';

export class DomainError extends Error {
  /** When the failure is transient: how long a client should wait before trying again. */
  readonly retryAfterSeconds?: number;

  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    options: { retryAfterSeconds?: number } = {},
  ) {
    super(message);
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const badRequest = (code: string, message: string, details?: unknown) => new DomainError('invalid', code, message, details);
export const notFound = (code: string, message: string, details?: unknown) => new DomainError('not_found', code, message, details);
export const conflict = (code: string, message: string, details?: unknown) => new DomainError('conflict', code, message, details);
export const forbidden = (code: string, message: string, details?: unknown) => new DomainError('forbidden', code, message, details);
export const tooLarge = (code: string, message: string, details?: unknown) => new DomainError('too_large', code, message, details);
export const outOfRange = (code: string, message: string, details?: unknown) => new DomainError('out_of_range', code, message, details);
export const unavailable = (code: string, message: string, details?: unknown) => new DomainError('unavailable', code, message, details);
