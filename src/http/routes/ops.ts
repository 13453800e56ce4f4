import type { TemplatedApp } from 'uWebSockets.js';
import { registry as metricsRegistry } from '../../metrics/metrics.js';
import type { AppContext } from '../app-context.js';
import { route } from '../exchange.js';

export function registerOpsRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.get(
    '/healthz',
    route(ctx, 'healthz', (x) => x.json(200, { status: 'ok' })),
  );
  app.get(
    '/readyz',
    route(ctx, 'readyz', (x) => (ctx.ready() ? x.json(200, { status: 'ready' }) : x.json(503, { status: 'not ready' }))),
  );
  app.get(
    '/metrics',
    route(ctx, 'metrics', async (x) => {
      const text = await metricsRegistry.metrics();
      x.send(200, text, { 'Content-Type': metricsRegistry.contentType });
    }),
  );
}
