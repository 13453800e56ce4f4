// The control plane seen from one node (admin, scope *): GET /v1/control-plane lists every node's
// heartbeat against the authority; POST /v1/control-plane/restore {fromReplica: true} rebuilds a
// lost or diverged Redis from this node's replica (see RedisControlStore.restoreFromReplica).
import type { TemplatedApp } from 'uWebSockets.js';
import { controlPlaneRestoreBody, parseBody } from '../../domain/requests.js';
import type { AppContext } from '../app-context.js';
import { route } from '../exchange.js';
import { guardGlobal } from '../guard.js';
import { readJson } from '../json-body.js';

export function registerControlPlaneRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.get(
    '/v1/control-plane',
    route(ctx, 'control-plane.status', async (x) => {
      guardGlobal(ctx, x, 'admin', 'control plane status');
      x.json(200, await ctx.registry.controlPlaneStatus());
    }),
  );
  app.post(
    '/v1/control-plane/restore',
    route(ctx, 'control-plane.restore', async (x) => {
      const principal = guardGlobal(ctx, x, 'admin', 'control plane restore');
      parseBody(controlPlaneRestoreBody, await readJson(x, ctx.config.server.maxJsonBytes));
      x.json(200, await ctx.registry.restoreControlPlane(principal));
    }),
  );
}
