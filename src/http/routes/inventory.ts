// GET /v1/inventory: every model in the caller's scope as the governance inventory, JSON or CSV.
import type { TemplatedApp } from 'uWebSockets.js';
import { scopeMatches } from '../../auth/scope.js';
import { badRequest } from '../../domain/errors.js';
import { inventoryCsv } from '../../domain/inventory.js';
import type { AppContext } from '../app-context.js';
import { route } from '../exchange.js';
import { guard } from '../guard.js';

export function registerInventoryRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.get(
    '/v1/inventory',
    route(ctx, 'inventory', (x) => {
      const principal = guard(ctx, x, 'reader', null, 'inventory');
      const format = x.param('format') || 'json';
      if (format !== 'json' && format !== 'csv')
        throw badRequest('FORMAT_INVALID', `format must be json or csv, not "${format.slice(0, 40)}"`);
      const rows = ctx.registry.evidence.inventory((name) => scopeMatches(principal.scope, name), x.param('prefix') || undefined);
      const generatedAt = new Date().toISOString();
      if (format === 'csv') {
        x.send(200, inventoryCsv(rows), {
          'Content-Type': 'text/csv; charset=utf-8; header=present',
          'Content-Disposition': `attachment; filename="modelgate-inventory-${generatedAt.slice(0, 10)}.csv"`,
        });
        return;
      }
      x.json(200, { generatedAt, scope: principal.scope, models: rows });
    }),
  );
}
