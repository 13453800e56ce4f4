// Who the caller is and what the deployment's policy protects: what a client (the console) needs
// to show the role and scope and to hide what the role cannot do. The server still checks every
// request; this only saves clients from learning it by refusal.
import type { TemplatedApp } from 'uWebSockets.js';
import { scopeMatches } from '../../auth/scope.js';
import { badRequest } from '../../domain/errors.js';
import type { Principal } from '../../domain/principal.js';
import type { AppContext } from '../app-context.js';
import { route } from '../exchange.js';
import { guard } from '../guard.js';
import { parseLimit } from '../paths.js';

/** The body of GET /v1/whoami. */
export interface WhoAmI {
  id: string;
  name: string;
  role: Principal['role'];
  scope: string;
  /** Aliases under a policy: only approvers move them. */
  protectedAliases: string[];
}

export function registerSessionRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.get(
    '/v1/whoami',
    route(ctx, 'whoami', (x) => {
      const principal = guard(ctx, x, 'reader', null, 'whoami');
      const body: WhoAmI = {
        id: principal.id,
        name: principal.name,
        role: principal.role,
        scope: principal.scope,
        protectedAliases: ctx.registry.protectedAliases(),
      };
      x.json(200, body);
    }),
  );
  app.get(
    '/v1/approvals',
    route(ctx, 'approvals.pending', (x) => {
      const principal = guard(ctx, x, 'reader', null, 'approval queue');
      const status = x.param('status') || 'pending';
      if (status !== 'pending') throw badStatus(status);
      const page = ctx.registry.pendingApprovals(
        (name) => scopeMatches(principal.scope, name),
        x.param('cursor') || undefined,
        parseLimit(x.param('limit'), 100, 1000),
      );
      x.json(200, { versions: page.items, nextCursor: page.nextCursor });
    }),
  );
}

function badStatus(status: string) {
  return badRequest(
    'STATUS_INVALID',
    `status "${status.slice(0, 40)}" is not supported: only "pending" (versions no one has approved or rejected)`,
  );
}
