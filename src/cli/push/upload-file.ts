// Uploading one file as a blob. With its digest known: one streamed request, its body sent from the
// file with sendfile(2) over plain http (the client's file-send.ts), else read from the file
// through two reused buffers. Before its digest is known (a large file whose hash runs beside the
// upload): one streamed chunk into a resumable session, committed with the digest once the hash is
// done, or cancelled when the server turns out to have the blob. Either way, if the stream fails on
// the way (a transient error), the rest goes through a resumable upload session in large chunks,
// each resumed from the offset the server reports, so a broken connection costs at most one chunk.
import { open, type FileHandle } from 'node:fs/promises';
import { ModelgateApiError, isRetryableClientError, type ModelgateClient, type RateLimiter, type StoredBlob } from '../../client/index.js';
import type { Progress } from '../progress.js';
import { readPlacement, READ_SLACK } from '../../lib/read-placement.js';
import { withRetries, type RetryOptions } from '../../lib/retry.js';

export interface BlobSource {
  digest: string;
  size: number;
  absolutePath: string;
}

const ATTEMPTS = 4;
const RETRY_BASE_DELAY_MS = 500;
/**
 * Where the upload reads the file (https, or no sendfile addon), each read lands where the kernel's
 * copy out of the page cache is fast: in a buffer from malloc a read at a page-aligned position
 * otherwise copies at a quarter of the speed (see readPlacement), and the upload reads every byte
 * once more after the hash did.
 */
const PLACEMENT = { slack: READ_SLACK, offset: readPlacement };

/** Session chunks: large, so the per-request cost stays noise, and well below a 10-digit Content-Length. */
export const SESSION_CHUNK = 64 * 1024 * 1024;

export async function uploadFile(
  client: ModelgateClient,
  blob: BlobSource,
  progress: Progress,
  signal: AbortSignal,
  limiter?: RateLimiter,
): Promise<StoredBlob> {
  const handle = await open(blob.absolutePath, 'r');
  // Exactly the bytes that were hashed: a file that changed since fails the server's digest check.
  const source = sourceOf(handle);
  try {
    let sent = 0;
    try {
      return await client.uploadBlobFrom(blob.digest, blob.size, source.read, {
        limiter,
        placement: PLACEMENT,
        sourceFd: source.fd,
        signal,
        onProgress: (n) => {
          sent += n;
          progress.advance(n);
        },
      });
    } catch (err) {
      progress.advance(-sent);
      if (signal.aborted || !isRetryableClientError(err)) throw err;
      progress.note(`modelgate: upload of ${blob.digest} failed (${describe(err)}); continuing through a resumable upload session`);
    }
    return await uploadInSession(client, blob, source, progress, signal, limiter);
  } finally {
    await closeQuietly(handle);
  }
}

/** A file being sent before its digest is known; exactly one of `finish` and `abandon` is called. */
export interface UnhashedUpload {
  /** Completes the upload (resuming through the session after a transient failure) and commits it as `digest`. */
  finish(digest: string): Promise<StoredBlob>;
  /** Stops sending, drops the session and takes the bytes sent back off the meter. */
  abandon(): Promise<void>;
}

/**
 * Starts sending `file` as one streamed chunk of a new upload session at once. The session hashes
 * the chunk as it arrives, so the commit does not read the blob back.
 */
export function startUnhashedUpload(
  client: ModelgateClient,
  file: { absolutePath: string; size: number },
  progress: Progress,
  signal: AbortSignal,
  limiter?: RateLimiter,
): UnhashedUpload {
  const stop = new AbortController();
  const sendSignal = AbortSignal.any([signal, stop.signal]);
  const opening = open(file.absolutePath, 'r');
  let sessionId: string | null = null;
  let sent = 0;
  const sending = (async () => {
    const handle = await opening;
    const { id } = await client.openUpload(sendSignal);
    sessionId = id;
    const source = sourceOf(handle);
    return client.appendUpload(id, 0, file.size, source.read, {
      limiter,
      placement: PLACEMENT,
      sourceFd: source.fd,
      signal: sendSignal,
      onProgress: (n) => {
        sent += n;
        progress.advance(n);
      },
    });
  })();
  // Looked at by finish or abandon; never an unhandled rejection meanwhile.
  sending.catch(() => undefined);
  const close = () => opening.then(closeQuietly, () => undefined);

  return {
    async finish(digest) {
      try {
        try {
          const offset = await sending;
          if (offset === file.size) return await commit(client, sessionId!, digest, file, signal);
        } catch (err) {
          if (signal.aborted || !isRetryableClientError(err)) throw err;
          progress.note(`modelgate: upload of ${digest} failed (${describe(err)}); continuing through its upload session`);
        }
        const blob = { digest, size: file.size, absolutePath: file.absolutePath };
        return await uploadInSession(client, blob, sourceOf(await opening), progress, signal, limiter, { id: sessionId, counted: sent });
      } finally {
        await close();
      }
    },
    async abandon() {
      stop.abort();
      await sending.catch(() => undefined);
      progress.advance(-sent);
      await close();
      if (sessionId !== null) await cancelSession(client, sessionId, signal);
    },
  };
}

/** Commits a session; a digest mismatch here means the file changed between the hash's read and the upload's. */
async function commit(
  client: ModelgateClient,
  id: string,
  digest: string,
  file: { absolutePath: string; size: number },
  signal: AbortSignal,
): Promise<StoredBlob> {
  try {
    return await client.commitUpload(id, digest, file.size, signal);
  } catch (err) {
    if (err instanceof ModelgateApiError && err.code === 'DIGEST_MISMATCH') {
      await cancelSession(client, id, signal);
      throw new ModelgateApiError(
        err.status,
        err.code,
        `${file.absolutePath} changed while it was pushed (${err.serverMessage}); push again`,
        err.details,
      );
    }
    throw err;
  }
}

/**
 * Until the server has seen a dropped stream's connection close, the session is still busy with
 * that request: a later request on the session is refused (409 UPLOAD_BUSY), or finds the offset
 * moved under it (416 UPLOAD_OFFSET_MISMATCH). Both are worth another try.
 */
function sessionRetryable(err: unknown): boolean {
  if (err instanceof ModelgateApiError) return err.code === 'UPLOAD_BUSY' || err.code === 'UPLOAD_OFFSET_MISMATCH' || err.transient;
  return isRetryableClientError(err);
}

/** Cancels a session, waiting (briefly) for a dropped stream on it to end; a session left behind expires on its own. */
async function cancelSession(client: ModelgateClient, id: string, signal: AbortSignal): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      await client.cancelUpload(id, signal);
      return;
    } catch (err) {
      if (signal.aborted || !sessionRetryable(err)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A file open for an upload: its bytes by position, and its descriptor, from which the client may send them with sendfile(2). */
interface OpenSource {
  read(buffer: Buffer, length: number, position: number): Promise<number>;
  fd: number;
}

function sourceOf(handle: FileHandle): OpenSource {
  return { read: async (buffer, length, position) => (await handle.read(buffer, 0, length, position)).bytesRead, fd: handle.fd };
}

async function uploadInSession(
  client: ModelgateClient,
  blob: BlobSource,
  source: OpenSource,
  progress: Progress,
  signal: AbortSignal,
  limiter?: RateLimiter,
  /** A session already holding part of the blob, and the bytes of it on the meter. */
  resume: { id: string | null; counted: number } = { id: null, counted: 0 },
): Promise<StoredBlob> {
  const retry: RetryOptions = {
    attempts: ATTEMPTS,
    baseDelayMs: RETRY_BASE_DELAY_MS,
    retryable: sessionRetryable,
    signal,
    onRetry: (err, attempt, delayMs) =>
      progress.note(`modelgate: upload of ${blob.digest} failed (${describe(err)}); retry ${attempt} in ${delayMs}ms`),
  };
  /** Bytes of this session on the meter. */
  let counted = resume.counted;
  let id = resume.id;
  if (id === null) {
    progress.advance(-counted);
    counted = 0;
    id = (await withRetries(() => client.openUpload(signal), retry)).id;
  }
  const session = id;
  let offset = 0;
  while (offset < blob.size) {
    offset = await withRetries(async () => {
      // After a failure the server's offset says what it kept; the meter follows it.
      const from = await client.uploadOffset(session, signal);
      progress.advance(from - counted);
      counted = from;
      if (from >= blob.size) return from;
      const length = Math.min(SESSION_CHUNK, blob.size - from);
      return client.appendUpload(session, from, length, source.read, {
        limiter,
        placement: PLACEMENT,
        sourceFd: source.fd,
        signal,
        onProgress: (n) => {
          counted += n;
          progress.advance(n);
        },
      });
    }, retry);
  }
  return withRetries(() => client.commitUpload(session, blob.digest, blob.size, signal), retry);
}

async function closeQuietly(handle: FileHandle): Promise<void> {
  await handle.close().catch(() => undefined);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
