import type { TemplatedApp } from 'uWebSockets.js';
import { conflict } from '../../domain/errors.js';
import { gcBody, parseBody } from '../../domain/requests.js';
import type { AppContext } from '../app-context.js';
import { route } from '../exchange.js';
import { guardGlobal } from '../guard.js';
import { readJson } from '../json-body.js';

export function registerGcRoutes(app: TemplatedApp, ctx: AppContext): void {
  // One run at a time on this server (state of this app, not of the module).
  let running = false;
  app.post(
    '/v1/gc',
    route(ctx, 'gc', async (x) => {
      const principal = guardGlobal(ctx, x, 'admin', 'garbage collection');
      const body = x.hasBody ? parseBody(gcBody, await readJson(x, ctx.config.server.maxJsonBytes)) : { dryRun: false };
      if (running) throw conflict('GC_RUNNING', 'a garbage collection is already running');
      running = true;
      try {
        const report = await ctx.registry.collectGarbage({
          dryRun: body.dryRun,
          retentionDays: ctx.config.retention.unprotectedVersionDays,
          evidenceDays: ctx.config.retention.evidenceVersionDays,
          graceSeconds: ctx.config.gc.graceSeconds,
          actor: principal,
        });
        x.json(200, report);
      } finally {
        running = false;
      }
    }),
  );
}
