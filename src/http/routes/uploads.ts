// Resumable uploads: open a session, append chunks at the current offset, commit with a digest.
// The offset is what is durably on disk, so a client (or a restarted server) resumes from there.
import type { TemplatedApp } from 'uWebSockets.js';
import { ApiError, badRequest } from '../../errors.js';
import { offsetMismatch, type UploadSession } from '../../blobs/upload-sessions.js';
import { assertDigest } from '../../registry/names.js';
import type { Principal } from '../../auth/principal.js';
import type { AppContext } from '../app-context.js';
import { route, type Exchange } from '../exchange.js';
import { guard } from '../guard.js';
import { decode } from '../paths.js';
import { receiveBody, tooLarge } from '../receive.js';

const PREFIX = '/v1/uploads/';

export function registerUploadRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.post('/v1/uploads', route('uploads.create', (x) => createUpload(ctx, x)));
  app.get(`${PREFIX}*`, route('uploads.status', (x) => uploadStatus(ctx, x)));
  app.head(`${PREFIX}*`, route('uploads.status', (x) => uploadStatus(ctx, x)));
  app.patch(`${PREFIX}*`, route('uploads.append', (x) => appendChunk(ctx, x)));
  app.put(`${PREFIX}*`, route('uploads.commit', (x) => commitUpload(ctx, x)));
  app.del(`${PREFIX}*`, route('uploads.cancel', (x) => cancelUpload(ctx, x)));
}

function sessionId(x: Exchange): string {
  return decode(x.path.slice(PREFIX.length));
}

function describe(session: UploadSession & { offset: number }) {
  return {
    body: { id: session.id, offset: session.offset, expiresAt: session.expiresAt },
    headers: {
      Location: `${PREFIX}${session.id}`,
      'Upload-Offset': String(session.offset),
      ...(session.offset > 0 ? { Range: `bytes=0-${session.offset - 1}` } : {}),
    },
  };
}

async function createUpload(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'writer', null, 'upload');
  const session = await ctx.uploads.create(principal);
  const { body, headers } = describe(session);
  x.json(201, body, headers);
}

async function uploadStatus(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'writer', null, 'upload');
  const { body, headers } = describe(await ctx.uploads.get(sessionId(x), principal));
  if (x.method === 'HEAD') x.send(200, null, headers);
  else x.json(200, body, headers);
}

/**
 * Where a chunk claims to start: `Content-Range: bytes a-b/total|*` (or the OCI form `a-b`);
 * no header means "append at the current offset".
 */
export function chunkStart(header: string): { start: number; end: number | null } | null {
  if (header === '') return null;
  const m = /^(?:bytes[ =])?(\d{1,16})-(\d{1,16})(?:\/(?:\d{1,16}|\*))?$/.exec(header.trim());
  if (!m) throw badRequest('CONTENT_RANGE_INVALID', `invalid Content-Range "${header.slice(0, 80)}": expected "bytes a-b/*"`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw badRequest('CONTENT_RANGE_INVALID', `Content-Range end ${end} is before its start ${start}`);
  return { start, end };
}

/** Appends the request body to the session; the session's offset is whatever reached the disk. */
async function appendBody(ctx: AppContext, x: Exchange, id: string, caller: Principal): Promise<UploadSession & { offset: number }> {
  const claimed = chunkStart(x.headers.contentRange);
  const limit = ctx.config.blobs.maxBlobBytes;
  let release: (() => void) | null = null;
  let appender: Awaited<ReturnType<typeof ctx.uploads.appender>> | null = null;
  // The sink opens asynchronously while the body already streams in (see receiveBody).
  const sink = (async () => {
    const session = await ctx.uploads.get(id, caller);
    if (claimed && claimed.start !== session.offset) throw offsetMismatch(session.offset, claimed.start);
    release = ctx.uploads.lock(id);
    appender = await ctx.uploads.appender(id, session.offset);
    return Object.assign(appender, { session });
  })();
  let failure: unknown = null;
  let received = 0;
  try {
    const done = await receiveBody(x, sink, null, limit);
    received = done.size;
  } catch (err) {
    failure = err;
  }
  try {
    const opened = await sink.catch(() => null);
    if (opened) {
      if (!failure && opened.session.offset + appender!.bytesWritten > limit) failure = tooLarge(limit);
      else if (!failure && claimed && claimed.end !== null && claimed.end - claimed.start + 1 !== received) {
        failure = badRequest('CONTENT_RANGE_MISMATCH', `Content-Range announced ${claimed.end - claimed.start + 1} bytes but the body had ${received}; the chunk was not kept`);
      }
      // A client that vanished mid-chunk keeps what reached the disk and resumes from that offset;
      // a chunk refused for any other reason is taken back, so the offset stays where it was.
      if (failure && !(failure instanceof ApiError && failure.code === 'CLIENT_ABORTED')) await appender!.discard();
      await appender!.close(true);
    }
    if (failure) throw failure;
    await ctx.uploads.touch(id);
    return await ctx.uploads.get(id, caller);
  } finally {
    (release as (() => void) | null)?.();
  }
}

async function appendChunk(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'writer', null, 'upload');
  const id = sessionId(x);
  const session = x.hasBody ? await appendBody(ctx, x, id, principal) : await ctx.uploads.get(id, principal);
  const { body, headers } = describe(session);
  x.json(202, body, headers);
}

async function commitUpload(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'writer', null, 'upload');
  const id = sessionId(x);
  const digest = assertDigest(x.param('digest'));
  const unpin = ctx.blobGuard.pin([digest]);
  try {
    if (x.hasBody) await appendBody(ctx, x, id, principal);
    await ctx.uploads.get(id, principal);
    await commitSession(ctx, x, id, digest);
  } finally {
    unpin();
  }
}

async function commitSession(ctx: AppContext, x: Exchange, id: string, digest: string): Promise<void> {
  const release = ctx.uploads.lock(id);
  try {
    const path = ctx.uploads.pathOf(id);
    const { hex, size } = await ctx.hashPool.hashFile(path);
    if (`sha256:${hex}` !== digest) {
      await ctx.uploads.remove(id);
      throw badRequest('DIGEST_MISMATCH', `the uploaded bytes have digest sha256:${hex}, not ${digest}; the upload was discarded`, {
        expected: digest,
        actual: `sha256:${hex}`,
        size,
      });
    }
    const info = await ctx.blobs.ingestFile(path, digest);
    await ctx.uploads.remove(id);
    x.json(201, { digest: info.digest, size: info.size }, {
      Location: `/v1/blobs/${digest}`,
      'Docker-Content-Digest': digest,
    });
  } finally {
    release();
  }
}

async function cancelUpload(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'writer', null, 'upload');
  const id = sessionId(x);
  await ctx.uploads.get(id, principal);
  const release = ctx.uploads.lock(id);
  try {
    await ctx.uploads.remove(id);
  } finally {
    release();
  }
  x.send(204, null);
}

