// Every refused attempt by a known caller goes into the audit log: 403s on any route, any 4xx on
// a mutating request, and a 401 for a token that exists but is expired or revoked. Requests with
// no recognisable token are counted in metrics only, so anonymous traffic cannot flood the log.
import { AuthError } from '../../auth/authenticator.js';
import type { Actor } from '../../domain/types.js';
import { logger } from '../../log.js';
import type { AuditLog } from '../../registry/audit-log.js';
import type { Refusal } from './refusal.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What the auditor needs to know of the refused request. */
export interface RefusedRequest {
  readonly method: string;
  readonly route: string;
  readonly path: string;
  /** The authenticated caller, if authentication got that far. */
  readonly principal: Actor | null;
  /** The model the request is about, once known: the refusal is filed under it. */
  readonly model: string | null;
}

/** Records a refusal when it must be audited; resolves (never rejects) once that is done or has failed and been logged. */
export type RefusalAuditor = (request: RefusedRequest, refusal: Refusal) => Promise<void> | undefined;

function shouldAudit(method: string, r: Refusal): boolean {
  if (r.status === 403) return true;
  if (r.status === 401) return r.error instanceof AuthError && r.error.actor !== undefined;
  return !READS.has(method) && r.status >= 400 && r.status < 500;
}

/** The actor a refusal is attributed to, or undefined when it is not audited. */
function refusalActor(method: string, r: Refusal, principal: Actor | null): Actor | undefined {
  if (!shouldAudit(method, r)) return undefined;
  return principal ?? (r.error instanceof AuthError ? r.error.actor : undefined);
}

export function refusalAuditor(log: AuditLog): RefusalAuditor {
  return (request, r) => {
    const actor = refusalActor(request.method, r, request.principal);
    if (!actor) return undefined;
    const { route, method, path, model } = request;
    return log.recordRefusal({ route, method, path, status: r.status, code: r.code, message: r.message, model }, actor).then(
      () => undefined,
      (e: unknown) => logger.error({ err: e }, 'could not audit a refused request'),
    );
  };
}
