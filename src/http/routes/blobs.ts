// Blobs by digest: monolithic upload (streamed, hashed on a worker, committed only when the
// digest matches) and downloads with immutable caching.
import type { TemplatedApp } from 'uWebSockets.js';
import { forbidden, notFound } from '../../domain/errors.js';
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
  guard(ctx, x, 'writer', null, 'blob upload');
  const digest = assertDigest(x.param('digest'));
  // A blob is never swept while it is being uploaded, whatever the grace period.
  const release = ctx.blobGuard.pin([digest]);
  try {
    await receiveAndCommit(ctx, x, digest);
  } finally {
    release();
  }
}

async function receiveAndCommit(ctx: AppContext, x: Exchange, digest: string): Promise<void> {
  const { size, existed } = await receiveBlob(ctx, x, digest);
  const headers = { Location: `/v1/blobs/${digest}`, 'Docker-Content-Digest': digest };
  if (existed) x.json(200, { digest, size, existed: true }, headers);
  else x.json(201, { digest, size }, headers);
}

/**
 * Blobs are shared between models, so a scoped token may read one only if a version of a model in
 * its scope lists it; a blob no version lists yet needs a token scoped to "*".
 */
async function downloadBlob(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'reader', null, 'blob download');
  const digest = assertDigest(decode(x.path.slice('/v1/blobs/'.length)));
  if (principal.scope !== '*' && !ctx.registry.blobReferences(digest).some((r) => scopeMatches(principal.scope, r.name))) {
    // Says nothing about which models list the blob: that is outside this token's view.
    throw forbidden('FORBIDDEN', `token ${principal.id} is scoped to "${principal.scope}" and no model in that scope lists ${digest}`);
  }
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
  return serveBytes(x, {
    size: info.size,
    etag: `"${digest.slice('sha256:'.length)}"`,
    headers: {
      'Content-Type': 'application/octet-stream',
      'Cache-Control': cacheControl,
      'Docker-Content-Digest': digest,
      ...extra,
    },
    open: () => blobs.open(digest),
  });
}
