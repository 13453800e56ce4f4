import type { Principal, Role } from '../domain/principal.js';
import type { AppContext } from './app-context.js';
import type { Exchange } from './exchange.js';

/**
 * Authenticates the caller and checks the role a route needs and, for a route about one model,
 * that the token's scope covers it. The one place every route goes through.
 */
export function guard(ctx: AppContext, x: Exchange, role: Role, model: string | null, what: string): Principal {
  const principal = ctx.auth.authenticate(x.headers.authorization);
  x.principal = principal;
  if (model !== null) x.model = model;
  ctx.auth.authorize(principal, role, model, what);
  return principal;
}

/** For routes that span every model (audit, tokens, GC): the token must be scoped to "*". */
export function guardGlobal(ctx: AppContext, x: Exchange, role: Role, what: string): Principal {
  const principal = ctx.auth.authenticate(x.headers.authorization);
  x.principal = principal;
  ctx.auth.authorizeGlobal(principal, role, what);
  return principal;
}

/** For the audit log's read routes: an auditor, approver or admin of any scope (the route cuts what it shows to that scope). */
export function guardAudit(ctx: AppContext, x: Exchange, what: string): Principal {
  const principal = ctx.auth.authenticate(x.headers.authorization);
  x.principal = principal;
  ctx.auth.authorizeAuditRead(principal, what);
  return principal;
}
