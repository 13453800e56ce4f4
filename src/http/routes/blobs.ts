// Blobs by digest: monolithic upload (streamed, hashed on a worker, committed only when the
// digest matches) and downloads with immutable caching.
import type { TemplatedApp } from 'uWebSockets.js';
import { notFound } from '../../domain/errors.js';
import type { Principal } from '../../domain/principal.js';
import { scopeMatches } from '../../auth/scope.js';
import { assertDigest } from '../../domain/names.js';
import { logger } from '../../log.js';
import type { AppContext } from '../app-context.js';
import { serveBytes } from '../download.js';
import { route, type Exchange } from '../exchange.js';
import { countDownload, fleetCaller } from '../fleet-caller.js';
import { guard } from '../guard.js';
import { decode } from '../paths.js';
import { receiveBlob } from '../blob-intake.js';

export const IMMUTABLE = 'public, max-age=31536000, immutable';

export function registerBlobRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.post(
    '/v1/blobs',
    route(ctx, 'blobs.upload', (x) => uploadBlob(ctx, x)),
  );
  const download = route(ctx, 'blobs.download', (x) => downloadBlob(ctx, x));
  app.get('/v1/blobs/*', download);
  app.head('/v1/blobs/*', download);
}

async function uploadBlob(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'writer', null, 'blob upload');
  const digest = assertDigest(x.param('digest'));
  // A blob is never swept while it is being uploaded, whatever the grace period.
  const release = ctx.blobGuard.pin([digest]);
  try {
    await receiveAndCommit(ctx, x, digest, inView(ctx, principal, digest));
  } finally {
    release();
  }
}

/** `inView` false: the caller may not learn that the blob was already stored (another scope's). */
async function receiveAndCommit(ctx: AppContext, x: Exchange, digest: string, inView: boolean): Promise<void> {
  const { size, existed } = await receiveBlob(ctx, x, digest, inView);
  const headers = { Location: `/v1/blobs/${digest}`, 'Docker-Content-Digest': digest };
  if (existed && inView) x.json(200, { digest, size, existed: true }, headers);
  else x.json(201, { digest, size }, headers);
}

/**
 * Whether the blob is in the token's view: any blob for a `*` token; for a scoped one, a blob some
 * version of a model in its scope lists. Blobs are shared between models, so a scoped token must
 * not learn that another scope holds one.
 */
export function inView(ctx: AppContext, principal: Principal, digest: string): boolean {
  return principal.scope === '*' || ctx.registry.blobReferences(digest).some((r) => scopeMatches(principal.scope, r.name));
}

/**
 * A scoped token reads a blob only if a version of a model in its scope lists it; any other blob
 * (another scope's, or one no version lists yet) answers exactly as a missing one, so a scoped
 * push's HEAD finds it missing and uploads it, and nothing about other scopes shows.
 */
async function downloadBlob(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'reader', null, 'blob download');
  const digest = assertDigest(decode(x.path.slice('/v1/blobs/'.length)));
  if (!inView(ctx, principal, digest)) throw notFound('BLOB_NOT_FOUND', `blob ${digest} does not exist`);
  const caller = fleetCaller(ctx, x, principal);
  const bytes = await serveBlob(ctx, x, digest, ctx.registry.registeredBlobSize(digest), IMMUTABLE);
  countDownload(ctx, x, caller, { blob: digest, visible: (model) => scopeMatches(principal.scope, model) }, bytes);
}

/**
 * Serves one blob with ranges; `cacheControl` differs between immutable and alias-based URLs.
 * A stored object whose size is not `expectedSize` (the registered one, when known) is not the
 * blob but a short write: it is answered as missing, so that a push uploads the blob again.
 */
export async function serveBlob(
  ctx: AppContext,
  x: Exchange,
  digest: string,
  expectedSize: number | null,
  cacheControl: string,
  extra: Record<string, string> = {},
): Promise<number> {
  const blobs = ctx.blobs;
  // Where the store can tell at once, a HEAD is answered before the handler returns: a client
  // that half-closed its connection after the request gets it (see BlobStore.statNow).
  const now = blobs.statNow?.(digest);
  const info = now !== undefined ? now : await blobs.stat(digest);
  if (!info) throw notFound('BLOB_NOT_FOUND', `blob ${digest} does not exist`);
  if (expectedSize !== null && info.size !== expectedSize) {
    logger.warn(
      { digest, stored: info.size, registered: expectedSize },
      'stored blob has another size than registered; answering as missing',
    );
    throw notFound('BLOB_NOT_FOUND', `blob ${digest} is not stored whole (${info.size} of ${expectedSize} bytes); upload it again`);
  }
  return serveBytes(
    x,
    {
      size: info.size,
      etag: `"${digest.slice('sha256:'.length)}"`,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Cache-Control': cacheControl,
        'Docker-Content-Digest': digest,
        ...extra,
      },
      open: () => blobs.open(digest),
    },
    ctx.socketSend,
  );
}
