// GET/HEAD /v1/resolve/{name}@{ref}: the hot path. Synchronous from request to response: one
// token check, one map lookup, and response bytes prepared when the alias last changed.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Principal } from '../../auth/principal.js';
import { ApiError } from '../../errors.js';
import { logger } from '../../log.js';
import { httpMetrics } from '../../metrics/metrics.js';
import { parseReference } from '../../registry/names.js';
import type { AppContext } from '../app-context.js';
import { endWithoutBody } from '../exchange.js';
import { decode } from '../paths.js';
import { auditRefusal, refusalActor } from '../refusal-audit.js';
import { etagMatches } from '../range.js';
import { statusLine } from '../status.js';

const PREFIX = '/v1/resolve/';

export function registerResolveRoutes(app: TemplatedApp, ctx: AppContext): void {
  const handler = (res: HttpResponse, req: HttpRequest) => {
    const started = performance.now();
    const head = req.getMethod() === 'head';
    const method = head ? 'HEAD' : 'GET';
    let principal: Principal | null = null;
    let model: string | null = null;
    try {
      principal = ctx.auth.authenticate(req.getHeader('authorization'));
      const { name, ref } = parseReference(decode(req.getUrl().slice(PREFIX.length)));
      model = name;
      ctx.auth.authorize(principal, 'reader', name, 'resolve');
      const r = ctx.registry.resolveOrThrow(name, ref);
      const status = etagMatches(req.getHeader('if-none-match'), r.etag) ? 304 : 200;
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
      httpMetrics.observe('resolve', method, status, (performance.now() - started) / 1000);
    } catch (err) {
      const api = err instanceof ApiError ? err : null;
      if (!api) logger.error({ err, route: 'resolve' }, 'request failed');
      const failure = api ?? new ApiError(500, 'INTERNAL', 'internal error');
      const actor = api ? refusalActor(method, api, principal) : undefined;
      const respond = () => {
        sendError(res, failure, head);
        httpMetrics.observe('resolve', method, failure.status, (performance.now() - started) / 1000);
      };
      if (!actor) return respond();
      // An audited refusal is answered once its entry is committed.
      const url = req.getUrl();
      let aborted = false;
      res.onAborted(() => (aborted = true));
      void auditRefusal(ctx.store, actor, 'resolve', method, url, failure, model).then(() => {
        if (!aborted) res.cork(respond);
      });
    }
  };
  app.get(`${PREFIX}*`, handler);
  app.head(`${PREFIX}*`, handler);
}

function sendError(res: HttpResponse, api: ApiError, head: boolean): void {
  res.writeStatus(statusLine(api.status));
  for (const [k, v] of Object.entries(api.headers ?? {})) res.writeHeader(k, v);
  res.writeHeader('Content-Type', 'application/json');
  const body = JSON.stringify({ error: { code: api.code, message: api.message } });
  if (head) endWithoutBody(res, Buffer.byteLength(body));
  else res.end(body);
}
