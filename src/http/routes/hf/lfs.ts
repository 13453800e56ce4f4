// Git LFS for Hub uploads: the batch API tells the client which of its files the server still
// needs and where to PUT each one; the PUT stores the bytes under their sha256 exactly as
// `POST /v1/blobs?digest=` does (streamed, hashed on a worker, kept only if the digest matches).
// Files larger than uploads.hubPartBytes go in parts where the client offers it (lfs-multipart.ts).
//
// The LFS "basic" transfer sends its PUT to the URL it was given, with no Authorization header
// (huggingface_hub and @huggingface/hub alike), so each URL carries a grant (auth/grants.ts): for
// one blob, for one model the token may write, for an hour, void once the token is revoked.
import { assertDigest } from '../../../domain/names.js';
import type { AppContext } from '../../app-context.js';
import { receiveBlob } from '../../blob-intake.js';
import type { SessionTurns } from '../../../blobs/session-turns.js';
import type { Exchange } from '../../exchange.js';
import { guard } from '../../guard.js';
import { readJson } from '../../json-body.js';
import { decode } from '../../paths.js';
import { methodNotAllowed } from '../../route-errors.js';
import { inView } from '../blobs.js';
import type { Origin } from './api-models.js';
import { HfError } from './errors.js';
import { lfsComplete, lfsPart, multipartAction } from './lfs-multipart.js';
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

/** Whether the client offers the Hub's multipart transfer besides basic. */
function offersMultipart(body: unknown): boolean {
  const { transfers } = (typeof body === 'object' && body !== null ? body : {}) as { transfers?: unknown };
  return Array.isArray(transfers) && transfers.includes('multipart');
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
  const body = await readJson(x, ctx.config.server.maxJsonBytes);
  const objects = objectsOf(body);
  const multipart = offersMultipart(body);
  const { maxBlobBytes } = ctx.config.blobs;
  let partsAsked = false;
  const answers = await Promise.all(
    objects.map(async ({ oid, size }) => {
      const digest = `sha256:${oid}`;
      if (size > maxBlobBytes)
        return { oid, size, error: { code: 422, message: `larger than this server's limit of ${maxBlobBytes} bytes` } };
      if ((await ctx.blobs.stat(digest))?.size === size && inView(ctx, principal, digest)) return { oid, size };
      if (multipart && size > ctx.config.uploads.hubPartBytes) {
        partsAsked = true;
        const upload = await multipartAction(ctx, principal, name, { oid, size }, LFS_UPLOAD_PREFIX, origin, GRANT_SECONDS);
        return { oid, size, authenticated: true, actions: { upload } };
      }
      const grant = ctx.auth.grant(principal, PURPOSE, { model: name, digest }, GRANT_SECONDS);
      return {
        oid,
        size,
        authenticated: true,
        actions: { upload: { href: `${origin.base}${LFS_UPLOAD_PREFIX}${grant}`, expires_in: GRANT_SECONDS } },
      };
    }),
  );
  const transfer = partsAsked ? 'multipart' : 'basic';
  x.send(200, Buffer.from(JSON.stringify({ transfer, objects: answers, hash_algo: 'sha256' })), { 'Content-Type': LFS_JSON });
}

/**
 * Everything under /v1/hub/lfs/: `PUT {grant}` (a basic upload), `PUT {grant}/{n}` (part n of a
 * multipart upload), `POST {grant}` (its completion). Must be called synchronously in the route handler.
 */
export function lfsTransfer(ctx: AppContext, x: Exchange, turns: SessionTurns): Promise<void> {
  const rest = decode(x.path.slice(LFS_UPLOAD_PREFIX.length));
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    if (x.method !== 'PUT') methodNotAllowed(x, ['PUT']);
    return lfsPart(ctx, x, rest.slice(0, slash), rest.slice(slash + 1), turns);
  }
  if (x.method === 'POST') return lfsComplete(ctx, x, rest);
  if (x.method !== 'PUT') methodNotAllowed(x, ['PUT', 'POST']);
  return lfsUpload(ctx, x, rest);
}

/** PUT /v1/hub/lfs/{grant}: the blob the grant names, stored only if the body is exactly those bytes. */
async function lfsUpload(ctx: AppContext, x: Exchange, grant: string): Promise<void> {
  x.route = 'hf.lfs.upload';
  const { principal, subject } = ctx.auth.redeem(grant, PURPOSE);
  x.principal = principal;
  const model = subject.model ?? '';
  x.model = model;
  ctx.auth.authorize(principal, 'writer', model, 'Hub upload');
  const digest = assertDigest(subject.digest ?? '');
  // A blob is never swept while it is being uploaded, whatever the grace period.
  const release = ctx.blobGuard.pin([digest]);
  try {
    const { size } = await receiveBlob(ctx, x, digest, inView(ctx, principal, digest));
    x.json(200, { digest, size });
  } finally {
    release();
  }
}
