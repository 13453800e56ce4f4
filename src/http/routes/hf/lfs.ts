// Git LFS for Hub uploads: the batch API tells the client which of its files the server still
// needs and where to PUT each one; the PUT stores the bytes under their sha256 exactly as
// `POST /v1/blobs?digest=` does (streamed, hashed on a worker, kept only if the digest matches).
//
// The LFS "basic" transfer sends its PUT to the URL it was given, with no Authorization header
// (huggingface_hub and @huggingface/hub alike), so each URL carries a grant (auth/grants.ts): for
// one blob, for one model the token may write, for an hour, void once the token is revoked.
import { assertDigest } from '../../../domain/names.js';
import type { AppContext } from '../../app-context.js';
import { receiveBlob } from '../../blob-intake.js';
import type { Exchange } from '../../exchange.js';
import { guard } from '../../guard.js';
import { readJson } from '../../json-body.js';
import { decode } from '../../paths.js';
import { methodNotAllowed } from '../../route-errors.js';
import { inView } from '../blobs.js';
import type { Origin } from './api-models.js';
import { HfError } from './errors.js';
import { assertRepo } from './revision.js';

export const LFS_UPLOAD_PREFIX = '/v1/hub/lfs/';
export const LFS_BATCH_SUFFIX = '.git/info/lfs/objects/batch';
const PURPOSE = 'hub-lfs-upload';
const GRANT_SECONDS = 3600;
const MAX_OBJECTS = 1000;
const LFS_JSON = 'application/vnd.git-lfs+json';

interface LfsObject {
  oid: string;
  size: number;
}

function objectsOf(body: unknown): LfsObject[] {
  const { operation, objects } = (typeof body === 'object' && body !== null ? body : {}) as { operation?: unknown; objects?: unknown };
  if (operation !== 'upload') throw new HfError(400, null, 'operation: only "upload" is served here (download through /resolve/)');
  if (!Array.isArray(objects) || objects.length > MAX_OBJECTS) {
    throw new HfError(400, null, `objects: an array of at most ${MAX_OBJECTS} {oid, size} is required`);
  }
  return objects.map((o: unknown, i: number) => {
    const { oid, size } = (typeof o === 'object' && o !== null ? o : {}) as { oid?: unknown; size?: unknown };
    if (typeof oid !== 'string' || !/^[0-9a-f]{64}$/.test(oid))
      throw new HfError(400, null, `objects[${i}].oid: 64 lowercase hex digits (sha256) are required`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw new HfError(400, null, `objects[${i}].size: a byte count is required`);
    return { oid, size };
  });
}

/** POST /{repo_id}.git/info/lfs/objects/batch: no actions for a blob the caller may see stored, an upload URL for the others. */
export async function lfsBatch(ctx: AppContext, x: Exchange, name: string, origin: Origin): Promise<void> {
  if (x.method !== 'POST') methodNotAllowed(x, ['POST']);
  x.route = 'hf.lfs.batch';
  const principal = guard(ctx, x, 'writer', name, 'Hub upload');
  assertRepo(ctx, name);
  const objects = objectsOf(await readJson(x, ctx.config.server.maxJsonBytes));
  const answers = await Promise.all(
    objects.map(async ({ oid, size }) => {
      const digest = `sha256:${oid}`;
      if ((await ctx.blobs.stat(digest))?.size === size && inView(ctx, principal, digest)) return { oid, size };
      const grant = ctx.auth.grant(principal, PURPOSE, { model: name, digest }, GRANT_SECONDS);
      return {
        oid,
        size,
        authenticated: true,
        actions: { upload: { href: `${origin.base}${LFS_UPLOAD_PREFIX}${grant}`, expires_in: GRANT_SECONDS } },
      };
    }),
  );
  x.send(200, Buffer.from(JSON.stringify({ transfer: 'basic', objects: answers, hash_algo: 'sha256' })), { 'Content-Type': LFS_JSON });
}

/** PUT /v1/hub/lfs/{grant}: the blob the grant names, stored only if the body is exactly those bytes. */
export async function lfsUpload(ctx: AppContext, x: Exchange): Promise<void> {
  if (x.method !== 'PUT') methodNotAllowed(x, ['PUT']);
  x.route = 'hf.lfs.upload';
  const { principal, subject } = ctx.auth.redeem(decode(x.path.slice(LFS_UPLOAD_PREFIX.length)), PURPOSE);
  x.principal = principal;
  const model = subject.model ?? '';
  x.model = model;
  ctx.auth.authorize(principal, 'writer', model, 'Hub upload');
  const digest = assertDigest(subject.digest ?? '');
  // A blob is never swept while it is being uploaded, whatever the grace period.
  const release = ctx.blobGuard.pin([digest]);
  try {
    const { size } = await receiveBlob(ctx, x, digest);
    x.json(200, { digest, size });
  } finally {
    release();
  }
}
