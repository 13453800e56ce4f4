// Resumable uploads: open a session, append chunks at the current offset, commit with a digest.
// The offset is what is durably on disk, so a client (or a restarted server) resumes from there.
import type { TemplatedApp } from 'uWebSockets.js';
import { assertDigest } from '../../domain/names.js';
import type { AppContext } from '../app-context.js';
import { appendToSession } from '../blob-intake.js';
import type { SessionState } from '../../blobs/upload-sessions.js';
import { route, type Exchange } from '../exchange.js';
import { guard } from '../guard.js';
import { decode } from '../paths.js';

const PREFIX = '/v1/uploads/';

export function registerUploadRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.post(
    '/v1/uploads',
    route(ctx, 'uploads.create', (x) => createUpload(ctx, x)),
  );
  app.get(
    `${PREFIX}*`,
    route(ctx, 'uploads.status', (x) => uploadStatus(ctx, x)),
  );
  app.head(
    `${PREFIX}*`,
    route(ctx, 'uploads.status', (x) => uploadStatus(ctx, x)),
  );
  app.patch(
    `${PREFIX}*`,
    route(ctx, 'uploads.append', (x) => appendChunk(ctx, x)),
  );
  app.put(
    `${PREFIX}*`,
    route(ctx, 'uploads.commit', (x) => commitUpload(ctx, x)),
  );
  app.del(
    `${PREFIX}*`,
    route(ctx, 'uploads.cancel', (x) => cancelUpload(ctx, x)),
  );
}

function sessionId(x: Exchange): string {
  return decode(x.path.slice(PREFIX.length));
}

function describe(session: SessionState) {
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

async function appendChunk(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'writer', null, 'upload');
  const id = sessionId(x);
  const session = x.hasBody ? await appendToSession(ctx, x, id, principal) : await ctx.uploads.get(id, principal);
  const { body, headers } = describe(session);
  x.json(202, body, headers);
}

async function commitUpload(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'writer', null, 'upload');
  const id = sessionId(x);
  const digest = assertDigest(x.param('digest'));
  const unpin = ctx.blobGuard.pin([digest]);
  try {
    if (x.hasBody) await appendToSession(ctx, x, id, principal);
    await ctx.uploads.get(id, principal);
    const info = await ctx.uploads.commit(id, digest);
    x.json(201, { digest: info.digest, size: info.size }, { Location: `/v1/blobs/${digest}`, 'Docker-Content-Digest': digest });
  } finally {
    unpin();
  }
}

async function cancelUpload(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'writer', null, 'upload');
  const id = sessionId(x);
  await ctx.uploads.cancel(id, principal);
  x.send(204, null);
}
