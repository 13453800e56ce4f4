// GET/HEAD /v1/resolve/{name}@{ref}: the hot path. Synchronous from request to response: one
// token check, one map lookup by the raw request path, and a status line, headers and body
// rendered once after the alias last changed, written in two calls into uWS.
// Imported, not the global: Node 20's global `performance` is a lazy getter called on every read.
import { performance } from 'node:perf_hooks';
import { hasAt, requireAt } from '../point-in-time.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Principal } from '../../domain/principal.js';
import { logger } from '../../log.js';
import { trace } from '../../trace.js';
import { httpMetrics } from '../../metrics/metrics.js';
import { parseReference } from '../../domain/names.js';
import { ResolveCache } from '../../index/resolve-cache.js';
import type { PeerAddresses } from '../peer-address.js';
import type { AppContext } from '../app-context.js';
import { RawReply } from '../errors/raw-reply.js';
import { DEPLOYMENT_HEADER, DEPLOYMENT_IGNORED_HEADER } from '../../domain/fleet.js';
import type { Fleet } from '../../registry/fleet/fleet.js';
import type { FleetTarget } from '../../registry/fleet/tracker.js';
import { decode } from '../paths.js';
import { etagMatches } from '../range.js';
import { wallTimeAt } from '../../lib/wall-clock.js';
import { ownBytes, renderResolve, type ResolveResponse } from '../resolve-response.js';

const PREFIX = '/v1/resolve/';
/**
 * The header names this route reads, as bytes: uWS converts a string argument to UTF-8 in a new
 * allocation on every call (perf: the conversions of the three names were 1.3% of the server's CPU
 * under the resolve bench), and reads an ArrayBuffer as it is (see ownBytes).
 */
const AUTHORIZATION = ownBytes(Buffer.from('authorization'));
const IF_NONE_MATCH = ownBytes(Buffer.from('if-none-match'));
const DEPLOYMENT = ownBytes(Buffer.from(DEPLOYMENT_HEADER));
const FORWARDED_FOR = ownBytes(Buffer.from('x-forwarded-for'));

export function registerResolveRoutes(app: TemplatedApp, ctx: AppContext): void {
  // Keyed by the raw request path, so a repeated request is answered without parsing it.
  const responses = new ResolveCache<ResolveResponse>();
  ctx.registry.onModelChanged((model) => responses.invalidateModel(model));
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
    trace('resolve.rendered', undefined, name);
    return found;
  };

  /** `?at=TIME`: what the reference resolved to then, from the histories (never cached). */
  const lookupAt = (path: string, query: string, principal: Principal): ResolveResponse => {
    const { name, ref } = parseReference(decode(path.slice(PREFIX.length)));
    ctx.auth.authorize(principal, 'reader', name, 'resolve');
    const at = requireAt(new URLSearchParams(query).get('at') ?? '');
    return renderResolve(ctx.registry.resolveAt(name, ref, at));
  };

  return (res: HttpResponse, req: HttpRequest) => {
    const started = performance.now();
    ctx.loopShare.otherRequests++;
    let principal: Principal | null = null;
    try {
      principal = ctx.auth.authenticate(req.getHeader(AUTHORIZATION));
      const query = req.getQuery() ?? '';
      const r = query !== '' && hasAt(query) ? lookupAt(req.getUrl(), query, principal) : lookup(req.getUrl(), principal);
      const ignored = ctx.fleet === null ? null : countResolve(ctx.fleet, ctx.peers, r.target, principal, req, res, started);
      // uWS corks the response for the synchronous part of a handler: this is one write.
      if (etagMatches(req.getHeader(IF_NONE_MATCH), r.etag)) {
        res.writeStatus(r.heads.notModified);
        if (ignored !== null) res.writeHeader(DEPLOYMENT_IGNORED_HEADER, ignored);
        res.endWithoutBody();
        notModified.observe((performance.now() - started) / 1000);
        return;
      }
      if (head) {
        res.writeStatus(r.heads.head);
        if (ignored !== null) res.writeHeader(DEPLOYMENT_IGNORED_HEADER, ignored);
        res.endWithoutBody();
      } else {
        res.writeStatus(r.heads.ok);
        if (ignored !== null) res.writeHeader(DEPLOYMENT_IGNORED_HEADER, ignored);
        res.end(r.body);
      }
      ok.observe((performance.now() - started) / 1000);
    } catch (err) {
      refuse(ctx, res, req, method, principal, err, started);
    }
  };
}

/**
 * Counts the resolve for fleet telemetry, at the time of day of `started` (the request's
 * performance.now()): by the deployment header when it is well formed, else by the token's name
 * and the client address. Returns why a header was ignored, for the response. Telemetry never
 * fails the request.
 */
function countResolve(
  fleet: Fleet,
  peers: PeerAddresses,
  target: FleetTarget,
  principal: Principal,
  req: HttpRequest,
  res: HttpResponse,
  started: number,
): string | null {
  try {
    const at = wallTimeAt(started);
    const header = req.getHeader(DEPLOYMENT);
    const problem = header === '' ? null : fleet.resolvedByHeader(target, header, at);
    if (header === '' || problem !== null) {
      fleet.resolvedFrom(target, principal.name, peers.of(res), fleet.trustsProxies ? req.getHeader(FORWARDED_FOR) : '', at);
    }
    // Only printable ASCII goes back into a header.
    return problem === null ? null : problem.replace(/[^\x20-\x7e]/g, '?');
  } catch (err) {
    logger.warn({ err }, 'fleet: a resolve could not be counted');
    return null;
  }
}

/** Answers a failed resolve through the error pipeline; an authenticated caller's refusal is filed under the model the path names. */
function refuse(
  ctx: AppContext,
  res: HttpResponse,
  req: HttpRequest,
  method: 'GET' | 'HEAD',
  principal: Principal | null,
  err: unknown,
  started: number,
): void {
  const url = req.getUrl();
  const reply = new RawReply(
    res,
    method,
    'resolve',
    url,
    req.getHeader(AUTHORIZATION),
    principal,
    principal ? modelIn(url) : null,
    started,
  );
  void ctx.errors.fail(reply, err);
}

/** The model name a resolve path names, if it parses. */
function modelIn(path: string): string | null {
  try {
    return parseReference(decode(path.slice(PREFIX.length))).name;
  } catch {
    return null;
  }
}
