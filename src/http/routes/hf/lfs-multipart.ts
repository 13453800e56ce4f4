// The Hub's "multipart" LFS transfer, for files larger than uploads.hubPartBytes (huggingface_hub
// and @huggingface/hub both offer it in the batch request). The batch answer names one URL per
// part and a completion URL; the client PUTs each part (its response's ETag collected), then POSTs
// `{oid, parts: [{partNumber, etag}]}` to the completion URL. No part is anywhere near the
// ten-digit Content-Length this uWS build refuses, so files of any size go this way.
//
// Underneath, one multipart upload is one resumable upload session (blob-intake.ts): each part is
// a chunk with a fixed place, appended in order (parts sent in parallel wait their turn, see
// blobs/session-turns.ts), hashed as it arrives; the completion commits the session under the
// file's sha256, which the store verifies without reading the blob back. The URLs carry a grant
// (auth/grants.ts) naming the model, the blob, the session and the part size, like the basic PUT's.
import type { Principal } from '../../../domain/principal.js';
import { assertDigest } from '../../../domain/names.js';
import { badRequest, DomainError } from '../../../domain/errors.js';
import { PartAlreadyStored, type SessionTurns } from '../../../blobs/session-turns.js';
import type { SessionState } from '../../../blobs/upload-sessions.js';
import type { AppContext } from '../../app-context.js';
import { appendToSession } from '../../blob-intake.js';
import type { Exchange } from '../../exchange.js';
import { readJson } from '../../json-body.js';
import { declaredLength } from '../../receive.js';
import type { Origin } from './api-models.js';

export const MULTIPART_PURPOSE = 'hub-lfs-multipart';

/** One multipart upload, as its grant states it. */
interface Multipart {
  principal: Principal;
  digest: string;
  session: string;
  size: number;
  partBytes: number;
  parts: number;
}

/** The batch answer's upload action for one large object: a URL per part and the completion URL. */
export async function multipartAction(
  ctx: AppContext,
  principal: Principal,
  model: string,
  object: { oid: string; size: number },
  urlPrefix: string,
  origin: Origin,
  seconds: number,
): Promise<{ href: string; header: Record<string, string>; expires_in: number }> {
  const partBytes = ctx.config.uploads.hubPartBytes;
  const session = await ctx.uploads.create(principal);
  const subject = { model, digest: `sha256:${object.oid}`, session: session.id, size: String(object.size), part: String(partBytes) };
  const href = `${origin.base}${urlPrefix}${ctx.auth.grant(principal, MULTIPART_PURPOSE, subject, seconds)}`;
  // Part numbers as the Hub writes them (00001, …); both clients read the keys that are all digits.
  const header: Record<string, string> = { chunk_size: String(partBytes) };
  const parts = Math.ceil(object.size / partBytes);
  for (let n = 1; n <= parts; n++) header[String(n).padStart(5, '0')] = `${href}/${n}`;
  return { href, header, expires_in: seconds };
}

/** The upload a multipart grant names, for a principal that may still write the model (else 401/403). */
function redeem(ctx: AppContext, x: Exchange, grant: string): Multipart {
  const { principal, subject } = ctx.auth.redeem(grant, MULTIPART_PURPOSE);
  x.principal = principal;
  x.model = subject.model ?? '';
  ctx.auth.authorize(principal, 'writer', x.model, 'Hub upload');
  const size = Number(subject.size);
  const partBytes = Number(subject.part);
  return {
    principal,
    digest: assertDigest(subject.digest ?? ''),
    session: subject.session ?? '',
    size,
    partBytes,
    parts: Math.ceil(size / partBytes),
  };
}

/** The ETag a part is answered with, which the completion must name back. */
function etagOf(upload: Multipart, n: number): string {
  return `"${upload.session}-${n}"`;
}

/**
 * PUT {completion URL}/{n}: part n, exactly its bytes (Content-Length required), appended when the
 * parts before it are in. Must be called synchronously in the route handler (the body streams in).
 */
export async function lfsPart(ctx: AppContext, x: Exchange, grant: string, partText: string, turns: SessionTurns): Promise<void> {
  x.route = 'hf.lfs.part';
  const upload = redeem(ctx, x, grant);
  const n = /^[1-9][0-9]{0,5}$/.test(partText) ? Number(partText) : 0;
  if (n < 1 || n > upload.parts)
    throw badRequest('LFS_PART_UNKNOWN', `this upload has parts 1 to ${upload.parts}, not "${partText.slice(0, 20)}"`);
  const start = (n - 1) * upload.partBytes;
  const end = Math.min(start + upload.partBytes, upload.size);
  // Content-Length bounds the body before any byte of it lands: a part cannot run into the next one's place.
  const declared = declaredLength(x);
  if (declared !== end - start) {
    throw badRequest(
      'LFS_PART_LENGTH',
      `part ${n} is ${end - start} bytes and must say so in Content-Length (it said ${declared ?? 'nothing'})`,
    );
  }
  const gone = () =>
    x.aborted ? badRequest('CLIENT_ABORTED', 'the client closed the connection while the part waited for its turn') : null;
  try {
    await appendToSession(ctx, x, upload.session, upload.principal, {
      start,
      end,
      open: () => turns.openInTurn(ctx.uploads, upload.session, upload.principal, { start, end }, gone),
    });
  } catch (err) {
    // A retry of a part that was kept (its answer lost): the session holds exactly those bytes.
    if (!(err instanceof PartAlreadyStored)) throw err;
  } finally {
    turns.nudge(upload.session);
  }
  // An empty body with its length: a client reading to the end of a body without one would wait for the connection to close.
  x.send(200, '', { ETag: etagOf(upload, n) });
}

/** POST {completion URL}: every part in, the session committed as the blob (verified against its sha256). */
export async function lfsComplete(ctx: AppContext, x: Exchange, grant: string): Promise<void> {
  x.route = 'hf.lfs.complete';
  const upload = redeem(ctx, x, grant);
  checkCompletion(upload, await readJson(x, ctx.config.server.maxJsonBytes));
  // A blob is never swept while it is being committed, whatever the grace period.
  const release = ctx.blobGuard.pin([upload.digest]);
  try {
    const session = await sessionOf(ctx, upload);
    if (session === null) {
      x.json(200, { digest: upload.digest, size: upload.size });
      return;
    }
    if (session.offset !== upload.size) {
      throw badRequest(
        'LFS_PARTS_MISSING',
        `the parts received hold ${session.offset} of the file's ${upload.size} bytes; send the rest first`,
        {
          received: session.offset,
          size: upload.size,
        },
      );
    }
    const info = await ctx.uploads.commit(upload.session, upload.digest);
    x.json(200, { digest: info.digest, size: info.size });
  } finally {
    release();
  }
}

/** The upload's session, or null when a completion sent again finds it committed (gone, the blob stored). */
async function sessionOf(ctx: AppContext, upload: Multipart): Promise<SessionState | null> {
  try {
    return await ctx.uploads.get(upload.session, upload.principal);
  } catch (err) {
    if (err instanceof DomainError && err.code === 'UPLOAD_NOT_FOUND' && (await ctx.blobs.stat(upload.digest))?.size === upload.size)
      return null;
    throw err;
  }
}

/** The completion body names this upload's object and every part with the ETag it was answered with. */
function checkCompletion(upload: Multipart, body: unknown): void {
  const { oid, parts } = (typeof body === 'object' && body !== null ? body : {}) as { oid?: unknown; parts?: unknown };
  if (oid !== upload.digest.slice('sha256:'.length))
    throw badRequest('LFS_COMPLETION_INVALID', `oid: this upload is ${upload.digest.slice(7)}`);
  if (!Array.isArray(parts) || parts.length !== upload.parts) {
    throw badRequest('LFS_COMPLETION_INVALID', `parts: this upload has ${upload.parts} parts, each {partNumber, etag}`);
  }
  const named = new Map<number, unknown>();
  for (const p of parts as unknown[]) {
    const { partNumber, etag } = (typeof p === 'object' && p !== null ? p : {}) as { partNumber?: unknown; etag?: unknown };
    if (typeof partNumber === 'number') named.set(partNumber, etag);
  }
  for (let n = 1; n <= upload.parts; n++) {
    if (named.get(n) !== etagOf(upload, n)) {
      throw badRequest('LFS_COMPLETION_INVALID', `parts: part ${n} is missing or names another ETag than it was answered with`);
    }
  }
}
