// Fleet telemetry routes: what runs where (GET /v1/fleet), the observed deployment history
// (GET /v1/fleet/history), runtime reports of loaded weights (POST /v1/fleet/reports) and the
// unregistered artifacts they found (GET /v1/fleet/unregistered).
import type { TemplatedApp } from 'uWebSockets.js';
import { scopeMatches } from '../../auth/scope.js';
import { badRequest, forbidden, notFound } from '../../domain/errors.js';
import { mayReadUnregistered, parseInstanceCursor } from '../../domain/fleet.js';
import { assertModelName } from '../../domain/names.js';
import { fleetMetrics } from '../../metrics/metrics.js';
import type { Fleet } from '../../registry/fleet/fleet.js';
import type { AppContext } from '../app-context.js';
import { route } from '../exchange.js';
import { guard } from '../guard.js';
import { readJson } from '../json-body.js';
import { parseLimit } from '../paths.js';

/** Instances per page of a model's fleet view (`limit`), and models per page of the overview. */
const DEFAULT_INSTANCES = 1000;
const MAX_INSTANCES = 10_000;
const DEFAULT_MODELS = 100;
const MAX_MODELS = 1000;

/** The overview's cursor: the model name the previous page ended with. */
function modelCursor(text: string): string | null {
  if (text === '') return null;
  try {
    return assertModelName(text);
  } catch {
    throw badRequest('CURSOR_INVALID', `invalid cursor "${text.slice(0, 80)}": expected the model name a page ended with`);
  }
}

/** Bytes a report body may take: room for the largest allowed file list. */
const REPORT_BYTES_PER_FILE = 1200;

export function registerFleetRoutes(app: TemplatedApp, ctx: AppContext): void {
  const fleetOn = ctx.fleet;
  if (fleetOn) fleetMetrics.bind(() => fleetOn.currentStats());
  const enabled = (): Fleet => {
    if (!ctx.fleet) throw notFound('FLEET_DISABLED', 'fleet telemetry is turned off on this server (fleet.enabled)');
    return ctx.fleet;
  };

  app.get(
    '/v1/fleet',
    route(ctx, 'fleet', async (x) => {
      const model = x.param('model');
      const cursor = x.param('cursor');
      if (model === '') {
        const principal = guard(ctx, x, 'reader', null, 'fleet view');
        const fleet = enabled();
        const limit = parseLimit(x.param('limit'), DEFAULT_MODELS, MAX_MODELS);
        x.json(200, await fleet.overview((m) => scopeMatches(principal.scope, m), modelCursor(cursor), limit));
        return;
      }
      assertModelName(model);
      guard(ctx, x, 'reader', model, 'fleet view');
      const fleet = enabled();
      ctx.registry.getModel(model);
      const page = { after: parseInstanceCursor(cursor), limit: parseLimit(x.param('limit'), DEFAULT_INSTANCES, MAX_INSTANCES) };
      x.json(200, await fleet.view(model, page));
    }),
  );

  app.get(
    '/v1/fleet/history',
    route(ctx, 'fleet.history', async (x) => {
      const model = assertModelName(x.param('model'));
      guard(ctx, x, 'reader', model, 'fleet history');
      const fleet = enabled();
      ctx.registry.getModel(model);
      const versionText = x.param('version');
      if (versionText !== '' && !/^[1-9][0-9]{0,9}$/.test(versionText))
        throw badRequest('VERSION_INVALID', 'version must be a version number');
      const spans = await fleet.history(model, versionText === '' ? undefined : Number(versionText));
      const format = x.param('format');
      if (format === 'jsonl') {
        x.send(200, spans.map((s) => `${JSON.stringify({ model, ...s })}\n`).join(''), { 'Content-Type': 'application/x-ndjson' });
        return;
      }
      if (format !== '' && format !== 'json') throw badRequest('FORMAT_INVALID', 'format is json or jsonl');
      x.json(200, { model, spans });
    }),
  );

  app.post(
    '/v1/fleet/reports',
    route(ctx, 'fleet.report', async (x) => {
      const principal = guard(ctx, x, 'reader', null, 'fleet report');
      const fleet = enabled();
      const limit = Math.max(ctx.config.server.maxJsonBytes, fleet.options.maxReportFiles * REPORT_BYTES_PER_FILE);
      const body = await readJson(x, limit);
      const accepted = await fleet.report(principal, body, (model) => {
        assertModelName(model);
        x.model = model;
        ctx.auth.authorize(principal, 'reader', model, 'fleet report');
      });
      x.json(202, { accepted: true, files: accepted.files });
    }),
  );

  app.get(
    '/v1/fleet/unregistered',
    route(ctx, 'fleet.unregistered', async (x) => {
      const principal = guard(ctx, x, 'reader', null, 'the unregistered model list');
      if (!mayReadUnregistered(principal))
        throw forbidden(
          'FORBIDDEN',
          `the unregistered model list needs an auditor or admin token scoped to "*"; token ${principal.id} is a ${principal.role} scoped to "${principal.scope}"`,
        );
      const fleet = enabled();
      x.json(200, { artifacts: (await fleet.unregistered()).map(artifactView) });
    }),
  );
}

function artifactView(a: Awaited<ReturnType<Fleet['unregistered']>>[number]) {
  return { ...a, firstSeen: new Date(a.firstSeen).toISOString(), lastSeen: new Date(a.lastSeen).toISOString() };
}
