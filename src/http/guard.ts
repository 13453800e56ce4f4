import type { Principal, Role } from '../auth/principal.js';
import type { AppContext } from './app-context.js';
import type { Exchange } from './exchange.js';

/** Authenticates the caller and checks the role a route needs, in one place for every route. */
export function guard(ctx: AppContext, x: Exchange, role: Role, target: string): Principal {
  const principal = ctx.auth.authenticate(x.headers.authorization);
  ctx.auth.authorize(principal, role, target);
  return principal;
}
