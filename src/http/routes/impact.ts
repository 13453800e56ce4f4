// Incident queries: GET /v1/impact?target=<blob digest | name@ref | dataset digest or URI>, and per
// model GET /v1/models/{name}/impact?ref= and GET /v1/models/{name}/lineage?ref=. Answers cover
// only models the token's scope covers.
import type { TemplatedApp } from 'uWebSockets.js';
import { scopeMatches } from '../../auth/scope.js';
import { badRequest } from '../../domain/errors.js';
import type { AppContext } from '../app-context.js';
import { route, type Exchange } from '../exchange.js';
import { guard } from '../guard.js';
import { methodNotAllowed } from '../route-errors.js';

export function registerImpactRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.get(
    '/v1/impact',
    route(ctx, 'impact', (x) => {
      const principal = guard(ctx, x, 'reader', null, 'impact query');
      const target = x.param('target');
      if (!target) throw badRequest('TARGET_INVALID', 'give ?target=<blob digest | name@ref | dataset digest or URI>');
      x.json(
        200,
        ctx.registry.impact(target, (name) => scopeMatches(principal.scope, name)),
      );
    }),
  );
}

/** GET /v1/models/{name}/impact?ref= and /lineage?ref= (ref defaults to the latest version). */
export function modelGraphRoute(ctx: AppContext, x: Exchange, name: string, resource: 'impact' | 'lineage'): void {
  if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
  x.route = `models.${resource}`;
  const principal = guard(ctx, x, 'reader', name, resource === 'impact' ? 'impact query' : 'lineage');
  const visible = (model: string) => scopeMatches(principal.scope, model);
  const ref = x.param('ref') || `v${ctx.registry.getModel(name).latestVersion}`;
  if (resource === 'impact') x.json(200, ctx.registry.impact(`${name}@${ref}`, visible));
  else x.json(200, ctx.registry.lineage(name, ref, visible));
}
