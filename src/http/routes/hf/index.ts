// The Hugging Face Hub read API: what huggingface_hub (and so transformers, vLLM, TGI…) needs to
// download a model with HF_ENDPOINT pointing at modelgate.
//
//   HEAD/GET /{repo_id}/resolve/{revision}/{path}       file bytes and metadata headers
//   GET      /api/models/{repo_id}                      model_info at the default revision (main)
//   GET      /api/models/{repo_id}/revision/{revision}  model_info at a revision
//   GET      /api/models/{repo_id}/tree/{revision}[/{path}]?recursive=&expand=&limit=&cursor=
//
// and the write API (commit.ts, lfs.ts, repos.ts):
//
//   POST     /api/repos/create, /api/models/{repo_id}/preupload/{revision}, …/commit/{revision}
//   POST     /{repo_id}.git/info/lfs/objects/batch, PUT /v1/hub/lfs/{grant}
//   PUT      /v1/hub/lfs/{grant}/{n}, POST /v1/hub/lfs/{grant} (multipart parts, completion)
//
// uWebSockets.js matches static segments before parameters and backtracks, so every modelgate
// route (/v1/..., /healthz, /metrics, …) keeps its URLs; these patterns only receive what no
// modelgate route matches. Registration order does not change that.
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { tlsEnabled } from '../../tls.js';
import type { AppContext } from '../../app-context.js';
import type { Dialect } from '../../errors/dialect.js';
import { hfDialect, hfGrantDialect } from '../../errors/hf-dialect.js';
import { route, type Exchange } from '../../exchange.js';
import { routeNotFound } from '../../route-errors.js';
import { API_MODELS_PREFIX, apiModels, type Origin } from './api-models.js';
import { parseApiPath, parseResolvePath } from './hf-paths.js';
import { resolveFile } from './resolve-file.js';
import { commit, preupload } from './commit.js';
import { LFS_BATCH_SUFFIX, LFS_UPLOAD_PREFIX, lfsBatch, lfsTransfer } from './lfs.js';
import { SessionTurns } from '../../../blobs/session-turns.js';
import { createRepo } from './repos.js';

export function registerHfRoutes(app: TemplatedApp, ctx: AppContext): void {
  // Multipart uploads' parts waiting for the parts before them, on this server.
  const turns = new SessionTurns();
  const resolve = route(ctx, 'hf.resolve', (x) =>
    handle(x, () => {
      const target = parseResolvePath(ctx, x.path);
      if (!target) routeNotFound(x);
      return resolveFile(ctx, x, target);
    }),
  );
  app.any('/:repo/resolve/*', resolve);
  app.any('/:namespace/:repo/resolve/*', resolve);
  const https = tlsEnabled(ctx.config.server.tls);
  app.any(`${API_MODELS_PREFIX}*`, (res: HttpResponse, req: HttpRequest) => {
    const origin = originOf(req, https);
    route(ctx, 'hf.model', (x) => handle(x, () => api(ctx, x, origin)))(res, req);
  });
  app.any('/api/repos/create', (res: HttpResponse, req: HttpRequest) => {
    const origin = originOf(req, https);
    route(ctx, 'hf.repos.create', (x) => handle(x, () => createRepo(ctx, x, origin)))(res, req);
  });
  const batch = (res: HttpResponse, req: HttpRequest) => {
    const origin = originOf(req, https);
    route(ctx, 'hf.lfs.batch', (x) =>
      handle(x, () => {
        const name = x.path.slice(1, -LFS_BATCH_SUFFIX.length);
        if (!x.path.endsWith(LFS_BATCH_SUFFIX) || name === '') routeNotFound(x);
        return lfsBatch(ctx, x, decodeURIComponent(name), origin);
      }),
    )(res, req);
  };
  app.any('/:repo/info/lfs/objects/batch', batch);
  app.any('/:namespace/:repo/info/lfs/objects/batch', batch);
  app.any(
    `${LFS_UPLOAD_PREFIX}*`,
    route(ctx, 'hf.lfs.upload', (x) => handle(x, () => lfsTransfer(ctx, x, turns), hfGrantDialect)),
  );
}

function api(ctx: AppContext, x: Exchange, origin: Origin): Promise<void> | void {
  const target = parseApiPath(ctx, x.path.slice(API_MODELS_PREFIX.length));
  if (target?.kind === 'preupload') return preupload(ctx, x, target.name, target.revision);
  if (target?.kind === 'commit') return commit(ctx, x, target.name, target.revision, origin);
  if (target) return apiModels(ctx, x, target, origin);
  // A model named "api/models" has its files under /api/models/resolve/…
  const file = parseResolvePath(ctx, x.path);
  if (file) return resolveFile(ctx, x, file);
  routeNotFound(x);
}

/** Runs a handler and answers any failure in the Hub's error shape. */
function handle(x: Exchange, fn: () => Promise<void> | void, dialect: Dialect = hfDialect): Promise<void> | void {
  try {
    const pending = fn();
    return pending ? pending.catch((err: unknown) => x.fail(err, dialect)) : undefined;
  } catch (err) {
    return x.fail(err, dialect);
  }
}

const HOST = /^[A-Za-z0-9.:[\]_-]{1,255}$/;

/**
 * The scheme and host the client used (honouring a reverse proxy's X-Forwarded-*), for Link URLs;
 * `https` when the service itself serves TLS and no proxy says otherwise.
 */
function originOf(req: HttpRequest, https: boolean): Origin {
  const forwardedHost = req.getHeader('x-forwarded-host').split(',')[0]!.trim();
  const host = forwardedHost || req.getHeader('host');
  const proto = req.getHeader('x-forwarded-proto').split(',')[0]!.trim().toLowerCase();
  if (!HOST.test(host)) return { base: '' };
  return { base: `${proto === 'https' || (proto === '' && https) ? 'https' : 'http'}://${host}` };
}
