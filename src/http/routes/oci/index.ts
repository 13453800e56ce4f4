// The OCI distribution API (distribution-spec v1.1, pull and push) under /v2/. One uWS handler
// parses the path itself, because a repository name (`model` or `team/model`) spans a variable
// number of segments; each request is then named for metrics and the audit log by its handler.
import { assertRepository } from './stored-manifests.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ociDialect, ociError, type OciContext } from '../../errors/oci-dialect.js';
import { MAX_CATALOG_PAGE, MAX_TAGS_PAGE, pageTags, parseOciPath, parseTagCount } from './protocol.js';
import type { AppContext } from '../../app-context.js';
import { route, type Exchange } from '../../exchange.js';
import { guard } from '../../guard.js';
import { getBlob } from './blobs.js';
import { deleteManifest } from './manifest-delete.js';
import { getManifest, putManifest } from './manifests.js';
import { listReferrers } from './referrers.js';
import { API_VERSION, normaliseAuthorization } from './respond.js';
import { OciState } from './state.js';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './uploads.js';

export function registerOciRoutes(app: TemplatedApp, ctx: AppContext): void {
  const state = new OciState(ctx);
  const handler = (res: HttpResponse, req: HttpRequest): void => {
    // Exchange copies only the headers the v1 routes use; Accept is read here, synchronously.
    const accept = req.getHeader('accept');
    route(ctx, 'oci', (x) => dispatch(ctx, state, x, accept))(res, req);
  };
  app.any('/v2', handler);
  app.any('/v2/*', handler);
}

function allow(x: Exchange, methods: string[]): void {
  if (!methods.includes(x.method)) {
    throw ociError(405, 'UNSUPPORTED', `${x.method} is not supported on ${x.path.slice(0, 200)}`, undefined, { Allow: methods.join(', ') });
  }
}

async function dispatch(ctx: AppContext, state: OciState, x: Exchange, accept: string): Promise<void> {
  let context: OciContext = 'base';
  try {
    normaliseAuthorization(x);
    const target = parseOciPath(x.path);
    switch (target.kind) {
      case 'base':
        x.route = 'oci.base';
        allow(x, ['GET', 'HEAD']);
        return base(ctx, x);
      case 'catalog':
        allow(x, ['GET']);
        return catalog(ctx, x);
      case 'manifest':
        context = 'manifest';
        allow(x, ['GET', 'HEAD', 'PUT', 'DELETE']);
        if (x.method === 'PUT') return await putManifest(ctx, state, x, target.name, target.reference);
        if (x.method === 'DELETE') return await deleteManifest(ctx, state, x, target.name, target.reference);
        return await getManifest(ctx, state, x, target.name, target.reference, accept);
      case 'blob':
        context = 'blob';
        allow(x, ['GET', 'HEAD']);
        return await getBlob(ctx, state, x, target.name, target.digest);
      case 'uploads':
        context = 'upload';
        allow(x, ['POST']);
        return await startUpload(ctx, x, target.name);
      case 'upload':
        context = 'upload';
        allow(x, ['GET', 'HEAD', 'PATCH', 'PUT', 'DELETE']);
        if (x.method === 'PATCH') return await patchUpload(ctx, x, target.name, target.id);
        if (x.method === 'PUT') return await finishUpload(ctx, x, target.name, target.id);
        if (x.method === 'DELETE') return await cancelUpload(ctx, x, target.name, target.id);
        return await uploadStatus(ctx, x, target.name, target.id);
      case 'tags':
        context = 'tags';
        allow(x, ['GET', 'HEAD']);
        return tags(ctx, x, target.name);
      case 'referrers':
        context = 'manifest';
        allow(x, ['GET']);
        return listReferrers(ctx, x, target.name, target.digest);
      default:
        x.route = 'oci.unknown';
        throw ociError(404, 'UNSUPPORTED', `no OCI endpoint ${x.method} ${x.path.slice(0, 200)} (see README, OCI clients)`);
    }
  } catch (err) {
    await x.fail(err, ociDialect(context));
  }
}

/** GET /v2/: 200 {} for a valid token, else 401 with the Basic challenge clients answer. */
function base(ctx: AppContext, x: Exchange): void {
  if (x.headers.authorization === '')
    throw ociError(401, 'UNAUTHORIZED', 'authentication required: use a modelgate token as the password (any user name)');
  guard(ctx, x, 'reader', null, 'registry');
  const body = Buffer.from('{}');
  const headers = { ...API_VERSION, 'Content-Type': 'application/json' };
  if (x.method === 'HEAD') x.send(200, null, headers, body.length);
  else x.send(200, body, headers);
}

/**
 * GET /v2/_catalog[?n=&last=]: the repositories (models) the token may read, in name order, with a
 * next Link while more remain. Models outside the token's scope are not listed, as they answer
 * NAME_UNKNOWN to it everywhere else.
 */
function catalog(ctx: AppContext, x: Exchange): void {
  x.route = 'oci.catalog';
  const principal = guard(ctx, x, 'reader', null, 'catalog');
  const n = parseTagCount(x.param('n'));
  const size = Math.min(n ?? MAX_CATALOG_PAGE, MAX_CATALOG_PAGE);
  const last = x.param('last');
  const page =
    size === 0
      ? { items: [], nextCursor: null }
      : ctx.registry.modelNames((name) => ctx.auth.permits(principal, 'reader', name), last === '' ? undefined : last, size);
  const headers: Record<string, string> = { ...API_VERSION, 'Content-Type': 'application/json' };
  if (page.nextCursor !== null) headers.Link = `</v2/_catalog?n=${size}&last=${encodeURIComponent(page.nextCursor)}>; rel="next"`;
  x.send(200, Buffer.from(JSON.stringify({ repositories: page.items })), headers);
}

/** GET /v2/{name}/tags/list[?n=&last=]: aliases and v<N>, in ASCII order, with a next Link. */
function tags(ctx: AppContext, x: Exchange, name: string): void {
  x.route = 'oci.tags';
  guard(ctx, x, 'reader', name, 'tag list');
  assertRepository(ctx, name);
  const n = parseTagCount(x.param('n'));
  const all = ctx.registry.listAliases(name).map((a) => a.alias);
  let cursor: number | undefined;
  for (;;) {
    const page = ctx.registry.listVersions(name, cursor, 1000);
    for (const v of page.items) all.push(`v${v.version}`);
    if (!page.nextCursor) break;
    cursor = Number(page.nextCursor);
  }
  const page = pageTags(all, n, x.param('last'));
  const headers: Record<string, string> = { ...API_VERSION };
  if (page.next !== null) {
    headers.Link = `</v2/${name}/tags/list?n=${n ?? MAX_TAGS_PAGE}&last=${encodeURIComponent(page.next)}>; rel="next"`;
  }
  const body = Buffer.from(JSON.stringify({ name, tags: page.tags }));
  if (x.method === 'HEAD') x.send(200, null, { ...headers, 'Content-Type': 'application/json' }, body.length);
  else x.send(200, body, { ...headers, 'Content-Type': 'application/json' });
}
