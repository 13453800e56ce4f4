// GET/HEAD /v1/resolve/{name}@{ref}: the hot path. Synchronous from request to response: one
// token check, one map lookup, and response bytes prepared when the alias last changed.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { AuthError } from '../../auth/authenticator.js';
import type { Principal } from '../../auth/principal.js';
import { ApiError } from '../../errors.js';
import { logger } from '../../log.js';
import { httpMetrics } from '../../metrics/metrics.js';
import { parseReference } from '../../registry/names.js';
import type { AppContext } from '../app-context.js';
import { endWithoutBody } from '../exchange.js';
import { decode } from '../paths.js';
import { auditRefusal, shouldAudit } from '../refusal-audit.js';
import { etagMatches } from '../range.js';
import { statusLine } from '../status.js';

const PREFIX = '/v1/resolve/';

export function registerResolveRoutes(app: TemplatedApp, ctx: AppContext): void {
  const handler = (res: HttpResponse, req: HttpRequest) => {
    const started = performance.now();
    const head = req.getMethod() === 'head';
    let status = 200;
    let principal: Principal | null = null;
    const url = req.getUrl();
    try {
      principal = ctx.auth.authenticate(req.getHeader('authorization'));
      const { name, ref } = parseReference(decode(url.slice(PREFIX.length)));
      ctx.auth.authorize(principal, 'reader', name, 'resolve');
      const r = ctx.registry.resolveOrThrow(name, ref);
      if (etagMatches(req.getHeader('if-none-match'), r.etag)) status = 304;
      res.writeStatus(status === 304 ? '304 Not Modified' : '200 OK');
      res.writeHeader('ETag', r.etag);
      res.writeHeader('X-Model-Version', r.versionHeader);
      res.writeHeader('X-Model-Digest', r.version.digest);
      res.writeHeader('Cache-Control', 'no-cache');
      if (status === 304) res.endWithoutBody();
      else {
        res.writeHeader('Content-Type', 'application/json');
        if (head) endWithoutBody(res, r.body.length);
        else res.end(r.body);
      }
    } catch (err) {
      status = sendError(res, err, head);
      if (err instanceof ApiError && shouldAudit('GET', err)) {
        const actor = principal ?? (err instanceof AuthError ? err.actor : undefined);
        if (actor) auditRefusal(ctx.store, actor, 'resolve', head ? 'HEAD' : 'GET', url, err);
      }
    }
    httpMetrics.observe('resolve', head ? 'HEAD' : 'GET', status, (performance.now() - started) / 1000);
  };
  app.get(`${PREFIX}*`, handler);
  app.head(`${PREFIX}*`, handler);
}

function sendError(res: HttpResponse, err: unknown, head: boolean): number {
  if (!(err instanceof ApiError)) logger.error({ err, route: 'resolve' }, 'request failed');
  const api = err instanceof ApiError ? err : new ApiError(500, 'INTERNAL', 'internal error');
  res.writeStatus(statusLine(api.status));
  for (const [k, v] of Object.entries(api.headers ?? {})) res.writeHeader(k, v);
  res.writeHeader('Content-Type', 'application/json');
  const body = JSON.stringify({ error: { code: api.code, message: api.message } });
  if (head) endWithoutBody(res, Buffer.byteLength(body));
  else res.end(body);
  return api.status;
}
