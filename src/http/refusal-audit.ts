// Every refused attempt by a known caller goes into the audit log: 403s on any route, any 4xx on
// a mutating request, and a 401 for a token that exists but is expired or revoked. Requests with
// no recognisable token are counted in metrics only, so anonymous traffic cannot flood the log.
import { AuthError } from '../auth/authenticator.js';
import type { ApiError } from '../domain/errors.js';
import { logger } from '../log.js';
import type { Actor } from '../domain/types.js';
import type { AuditLog } from '../registry/audit-log.js';
import type { Exchange } from './exchange.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function shouldAudit(method: string, err: ApiError): boolean {
  if (err.status === 403) return true;
  if (err.status === 401) return err instanceof AuthError && err.actor !== undefined;
  return !READS.has(method) && err.status >= 400 && err.status < 500;
}

/** Appends the refusal; resolves (never rejects) once it is committed or has failed and been logged. */
export function auditRefusal(
  log: AuditLog,
  actor: Actor,
  route: string,
  method: string,
  path: string,
  err: ApiError,
  model: string | null = null,
): Promise<void> {
  return log.recordRefusal({ route, method, path, status: err.status, code: err.code, message: err.message, model }, actor).then(
    () => undefined,
    (e: unknown) => logger.error({ err: e }, 'could not audit a refused request'),
  );
}

/** The actor a refusal is attributed to, or undefined when it is not audited. */
export function refusalActor(method: string, err: ApiError, principal: Actor | null): Actor | undefined {
  if (!shouldAudit(method, err)) return undefined;
  return principal ?? (err instanceof AuthError ? err.actor : undefined);
}

export function refusalAuditor(log: AuditLog) {
  return (x: Exchange, err: ApiError): Promise<void> | undefined => {
    const actor = refusalActor(x.method, err, x.principal);
    return actor ? auditRefusal(log, actor, x.route, x.method, x.path, err, x.model) : undefined;
  };
}
