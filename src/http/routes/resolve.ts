// GET/HEAD /v1/resolve/{name}@{ref}: the hot path. Synchronous from request to response: one
// token check, one map lookup by the raw request path, and a status line, headers and body
// rendered once after the alias last changed, written in two calls into uWS.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Principal } from '../../domain/principal.js';
import { ApiError } from '../../domain/errors.js';
import { logger } from '../../log.js';
import { httpMetrics } from '../../metrics/metrics.js';
import { parseReference } from '../../domain/names.js';
import { ResolveCache } from '../../index/resolve-cache.js';
import type { AppContext } from '../app-context.js';
import { endWithoutBody } from '../exchange.js';
import { decode } from '../paths.js';
import { auditRefusal, refusalActor } from '../refusal-audit.js';
import { etagMatches } from '../range.js';
import { renderResolve, type ResolveResponse } from '../resolve-response.js';
import { statusLine } from '../status.js';

const PREFIX = '/v1/resolve/';

export function registerResolveRoutes(app: TemplatedApp, ctx: AppContext): void {
  // Keyed by the raw request path, so a repeated request is answered without parsing it.
  const responses = new ResolveCache<ResolveResponse>();
  ctx.registry.onChange((change) => responses.invalidateModel(change.model));
  app.get(`${PREFIX}*`, resolveHandler(ctx, responses, 'GET'));
  app.head(`${PREFIX}*`, resolveHandler(ctx, responses, 'HEAD'));
}

function resolveHandler(ctx: AppContext, responses: ResolveCache<ResolveResponse>, method: 'GET' | 'HEAD') {
  const head = method === 'HEAD';
  const ok = httpMetrics.recorder('resolve', method, 200);
  const notModified = httpMetrics.recorder('resolve', method, 304);

  /** The response a request path names, checking the caller may read it before looking it up. */
  const lookup = (path: string, principal: Principal): ResolveResponse => {
    const cached = responses.get(path);
    if (cached) {
      ctx.auth.authorize(principal, 'reader', cached.name, 'resolve');
      return cached;
    }
    const { name, ref } = parseReference(decode(path.slice(PREFIX.length)));
    ctx.auth.authorize(principal, 'reader', name, 'resolve');
    const found = renderResolve(ctx.registry.resolveOrThrow(name, ref));
    responses.set(path, found);
    return found;
  };

  return (res: HttpResponse, req: HttpRequest) => {
    const started = performance.now();
    let principal: Principal | null = null;
    try {
      principal = ctx.auth.authenticate(req.getHeader('authorization'));
      const r = lookup(req.getUrl(), principal);
      // uWS corks the response for the synchronous part of a handler: this is one write.
      if (etagMatches(req.getHeader('if-none-match'), r.etag)) {
        res.writeStatus(r.heads.notModified);
        res.endWithoutBody();
        notModified.observe((performance.now() - started) / 1000);
        return;
      }
      if (head) {
        res.writeStatus(r.heads.head);
        res.endWithoutBody();
      } else {
        res.writeStatus(r.heads.ok);
        res.end(r.body);
      }
      ok.observe((performance.now() - started) / 1000);
    } catch (err) {
      refuse(ctx, res, req, method, principal, err, started);
    }
  };
}

function refuse(
  ctx: AppContext,
  res: HttpResponse,
  req: HttpRequest,
  method: 'GET' | 'HEAD',
  principal: Principal | null,
  err: unknown,
  started: number,
): void {
  const api = err instanceof ApiError ? err : null;
  if (!api) logger.error({ err, route: 'resolve' }, 'request failed');
  const failure = api ?? new ApiError(500, 'INTERNAL', 'internal error');
  const actor = api ? refusalActor(method, api, principal) : undefined;
  const respond = () => {
    sendError(res, failure, method === 'HEAD');
    httpMetrics.observe('resolve', method, failure.status, (performance.now() - started) / 1000);
  };
  if (!actor) {
    respond();
    return;
  }
  // An audited refusal is answered once its entry is committed; an authenticated caller's is filed
  // under the model the path names, if it names one.
  const url = req.getUrl();
  let aborted = false;
  res.onAborted(() => (aborted = true));
  void auditRefusal(ctx.registry.audit, actor, 'resolve', method, url, failure, principal ? modelIn(url) : null).then(() => {
    if (!aborted) res.cork(respond);
  });
}

/** The model name a resolve path names, if it parses. */
function modelIn(path: string): string | null {
  try {
    return parseReference(decode(path.slice(PREFIX.length))).name;
  } catch {
    return null;
  }
}

function sendError(res: HttpResponse, api: ApiError, head: boolean): void {
  res.writeStatus(statusLine(api.status));
  for (const [k, v] of Object.entries(api.headers ?? {})) res.writeHeader(k, v);
  res.writeHeader('Content-Type', 'application/json');
  const body = JSON.stringify({ error: { code: api.code, message: api.message } });
  if (head) endWithoutBody(res, Buffer.byteLength(body));
  else res.end(body);
}
