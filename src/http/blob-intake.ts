// Moving request bodies into blobs, for the v1 and OCI upload routes alike: a monolithic body
// streamed into the blob store, chunks appended to a resumable session, a session committed.
// Each answers in its own protocol's words; what is stored, verified and discarded is decided here.
import type { Principal } from '../domain/principal.js';
import { DomainError, badRequest } from '../domain/errors.js';
import type { BlobInfo, BlobWriter } from '../blobs/blob-store.js';
import { DiscardSink } from '../blobs/discard-sink.js';
import type { StreamHash } from '../blobs/hash-pool.js';
import { LateHash } from '../blobs/running-hashes.js';
import type { SessionChunk, SessionState } from '../blobs/upload-sessions.js';
import type { AppContext } from './app-context.js';
import type { Exchange } from './exchange.js';
import { declaredLength, receiveBody, tooLarge } from './receive.js';

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

/**
 * A chunk with a fixed place in its session (a Hub multipart part): it must be exactly the bytes
 * from `start` to `end`, opens when `open` says it is its turn, and is kept whole or not at all
 * (the client sends a failed part again from its start).
 */
export interface SessionPart {
  start: number;
  end: number;
  open(): Promise<SessionChunk>;
}

/**
 * Appends the request body at the session's offset (checked against Content-Range when given),
 * or as the given part. Must be called synchronously in the route handler. The offset afterwards is what the store
 * kept; a refused chunk is taken back, an aborted one keeps what arrived where the store can.
 */
export async function appendToSession(
  ctx: AppContext,
  x: Exchange,
  id: string,
  caller: Principal,
  part?: SessionPart,
): Promise<SessionState> {
  const claimed = part ? { start: part.start, end: part.end - 1 } : chunkStart(x.headers.contentRange);
  const limit = ctx.config.blobs.maxBlobBytes;
  // The session's running hash, known once the offset is: chunks wait for it meanwhile.
  const late = new LateHash();
  let hash: StreamHash | null = null;
  // The sink opens asynchronously while the body already streams in (see receiveBody).
  const sink = (async () => {
    try {
      const chunk = part ? await part.open() : await ctx.uploads.openChunk(id, caller, claimed ? claimed.start : null);
      hash = ctx.uploads.hashes.claim(id, chunk.session.offset);
      late.resolve(hash);
      return chunk;
    } catch (err) {
      late.resolve(null);
      throw err;
    }
  })();
  let failure: unknown = null;
  let received = 0;
  try {
    received = (await receiveBody(x, sink, late, limit, true)).size;
  } catch (err) {
    failure = err;
  }
  const opened = await sink.catch(() => null);
  if (!opened) throw failure;
  const running = hash as StreamHash | null;
  if (!failure && opened.session.offset + opened.bytesWritten > limit) failure = tooLarge(limit);
  else if (!failure && claimed && claimed.end !== null && claimed.end - claimed.start + 1 !== received) {
    failure = badRequest(
      'CONTENT_RANGE_MISMATCH',
      `Content-Range announced ${claimed.end - claimed.start + 1} bytes but the body had ${received}; the chunk was not kept`,
    );
  }
  if (failure) {
    // The hash saw bytes that are not (all) kept: the commit reads them back instead.
    running?.abort();
    // A client that vanished mid-chunk keeps what was stored (where the store can) and resumes
    // from that offset; a chunk refused for any other reason is taken back.
    await opened.drop(!part && failure instanceof DomainError && failure.code === 'CLIENT_ABORTED');
    throw failure;
  }
  // The running hash goes back before the chunk is kept: keeping it frees the session, and the
  // next chunk (a multipart upload's next part, already waiting) claims the hash at once.
  if (running) ctx.uploads.hashes.keep(id, running, opened.session.offset + opened.bytesWritten);
  try {
    return await opened.keep();
  } catch (err) {
    if (running) ctx.uploads.hashes.drop(id);
    throw err;
  }
}

/**
 * Streams the body into the blob store under `digest`, hashing on a worker; committed only when
 * the digest matches. Must be called synchronously in the route handler (the caller pins the
 * digest against this node's sweeps meanwhile).
 *
 * A blob the store holds already, where the caller may know it does, is only hashed, not written
 * again: the answer waits for the whole body and its digest either way, and a matching body then
 * refreshes the stored blob's time as a commit would. That applies where the stored object is the
 * blob's size as far as the request can tell (its Content-Length, or none); a stored object of
 * another size is a short write, which a body with a Content-Length replaces. A chunked body that
 * proves the stored object short, or whose blob vanished meanwhile (another node's sweep, an
 * operator), was not kept: a short object is moved aside and the client told to send the body
 * again (503, retryable), which then stores it.
 */
export async function receiveBlob(
  ctx: AppContext,
  x: Exchange,
  digest: string,
  /**
   * Whether the caller may learn that the store holds this blob (see inView in routes/blobs.ts).
   * Otherwise the body is written as if new: an upload that ran faster because the blob is stored
   * would tell a scoped token what another scope holds.
   */
  storedInView: boolean,
): Promise<BlobInfo & { existed: boolean }> {
  const limit = ctx.config.blobs.maxBlobBytes;
  const declared = declaredLength(x);
  if (declared !== null && declared > limit) throw tooLarge(limit);
  const startedAt = Date.now();
  // The sink opens while the body already streams in (see receiveBody).
  const sink = (async (): Promise<BlobWriter | DiscardSink> => {
    if (!storedInView) return ctx.blobs.createWriter(digest);
    const now = ctx.blobs.statNow?.(digest);
    const stored = now !== undefined ? now : await ctx.blobs.stat(digest);
    if (stored && (declared === null || declared === stored.size)) return new DiscardSink();
    return ctx.blobs.createWriter(digest);
  })();
  const writer = () => sink.then((s) => (s instanceof DiscardSink ? null : s));
  let hex: string;
  let size: number;
  try {
    const done = await receiveBody(x, sink, ctx.hashPool.startStream(), limit);
    hex = done.hash!.hex;
    size = done.size;
  } catch (err) {
    await writer().then(
      (w) => w?.abort(),
      () => undefined,
    );
    throw err;
  }
  const w = await writer();
  if (`sha256:${hex}` !== digest) {
    await w?.abort();
    throw badRequest('DIGEST_MISMATCH', `the body's digest is sha256:${hex}, not ${digest}`, {
      expected: digest,
      actual: `sha256:${hex}`,
      size,
    });
  }
  if (!w) return { ...(await keepStored(ctx, digest, size, startedAt)), existed: true };
  // Committed even when the blob exists: the stores then refresh its time, which tells a
  // concurrent garbage collection that it is wanted again. An object of another size under the
  // key is a short write, not the blob: it is overwritten and reported as a new upload.
  const existed = (await ctx.blobs.stat(digest))?.size === size;
  return { ...(await w.commit(digest)), existed };
}

/** The stored blob a verified body of `size` bytes repeated, refreshed; see receiveBlob for when it is not there. */
async function keepStored(ctx: AppContext, digest: string, size: number, startedAt: number): Promise<BlobInfo> {
  const refreshed = await ctx.blobs.refresh(digest, size);
  if (refreshed) return refreshed;
  // Bytes of this digest are `size` long: an object of another size under it is not the blob. Out
  // of the way with it, unless a copy was written since this upload began.
  const now = await ctx.blobs.stat(digest);
  if (now && now.size !== size) await ctx.blobs.quarantine(digest, startedAt);
  throw new DomainError(
    'unavailable',
    'BLOB_NOT_KEPT',
    `the body matched ${digest}, but the stored copy it was checked against ${now ? `is damaged (${now.size} bytes, not ${size})` : 'went away while it was received'}, and the body was not kept: send it again`,
    { digest, size },
    { retryAfterSeconds: 1 },
  );
}

/** Stores small bytes the caller already holds (a manifest, the empty JSON) as a blob, if absent. */
export async function storeBytes(ctx: AppContext, digest: string, bytes: Buffer): Promise<void> {
  if ((await ctx.blobs.stat(digest))?.size === bytes.length) return;
  const w = await ctx.blobs.createWriter(digest);
  try {
    await w.write(bytes);
    await w.commit(digest);
  } catch (err) {
    await w.abort();
    throw err;
  }
}
