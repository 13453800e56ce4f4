// An upload body straight from a local file into the socket with sendfile(2) (native/send-file.c),
// over plain http: the kernel hands the file's page-cache pages to the socket, so the client does
// not read the bytes into a buffer and copy them out again, which a read-and-write upload pays for
// every byte (on this project's 2-core machine a 1 GiB body cost 0.40-0.44 CPU-s this way against
// 0.55-0.61 read and written, into the same receiver). The addon is optional: where it was not
// built or does not load here, `fileSender()` is null and uploads read the file as before.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SENDFILE_CHUNK_BYTES } from './body-chunks.js';
import { ModelgateTransferError } from './errors.js';
import { paceAfter, stepSize, type RateLimiter } from './rate-limiter.js';

export interface SendFileAddon {
  send(
    socketFd: number,
    fileFd: number,
    offset: number,
    length: number,
    options: { chunked: boolean; last: boolean; stallMs: number; abort: Int32Array },
  ): Promise<number>;
}

let loaded: SendFileAddon | null | undefined;

/**
 * The addon, or null where it cannot be used. The compiled client sits in dist/src/client/ and the
 * bundled CLI in dist/cli/; the addon is dist/native/send-file.node for both.
 */
export function fileSender(): SendFileAddon | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== 'linux' || process.env.MODELGATE_NO_SENDFILE === '1') return loaded;
  for (const relative of ['../native/send-file.node', '../../native/send-file.node']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (!existsSync(path)) continue;
    try {
      loaded = createRequire(import.meta.url)(path) as SendFileAddon;
    } catch {
      // Built for another platform or Node: uploads read the file instead.
    }
    break;
  }
  return loaded;
}

/** The descriptor under a plain TCP socket, or null (a TLS socket's bytes must go through TLS). */
export function plainSocketFd(socket: Socket): number | null {
  if ('encrypted' in socket) return null;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

export interface FileBodyOptions {
  /** Bytes `start..start+length-1` of the open file `fd`. */
  fd: number;
  start: number;
  length: number;
  /** With HTTP/1.1 chunked transfer coding (bodies of 10^9 bytes or more), ended by the last chunk. */
  chunked: boolean;
  stallTimeoutMs: number;
  limiter?: RateLimiter;
  onProgress?(bytes: number): void;
}

/**
 * Sends the body from the file once the request head went out (`headWritten`). Node sees none of
 * these bytes, so its idle timer is off meanwhile (the addon fails a send that makes no progress
 * for `stallTimeoutMs`) and on again after. Stops quietly when the socket closes (the server
 * answered early, or the exchange failed): the exchange reports that. A failure of the send itself
 * destroys the socket with it.
 */
export async function sendFileBody(addon: SendFileAddon, socket: Socket, socketFd: number, headWritten: Promise<void>, o: FileBodyOptions) {
  await headWritten;
  // Read by a libuv thread: shared memory, which never moves (a tiny typed array may live on V8's heap).
  const abort = new Int32Array(new SharedArrayBuffer(4));
  const onClose = () => Atomics.store(abort, 0, 1);
  socket.once('close', onClose);
  socket.setTimeout(0);
  const slice = stepSize(SENDFILE_CHUNK_BYTES, o.limiter);
  try {
    for (let sent = 0; sent < o.length; ) {
      if (socket.destroyed) return;
      const n = Math.min(slice, o.length - sent);
      const last = o.chunked && sent + n === o.length;
      await addon.send(socketFd, o.fd, o.start + sent, n, { chunked: o.chunked, last, stallMs: o.stallTimeoutMs, abort });
      sent += n;
      o.onProgress?.(n);
      await paceAfter(o.limiter, n);
    }
  } catch (err) {
    if (socket.destroyed) return;
    const code = (err as { code?: string }).code;
    socket.destroy(
      code === 'ENODATA'
        ? new ModelgateTransferError(`the source ended before byte ${o.start + o.length} (${(err as Error).message})`)
        : code === 'ETIMEDOUT'
          ? new ModelgateTransferError(`no upload progress for ${o.stallTimeoutMs / 1000}s`)
          : new ModelgateTransferError(`sending the file failed: ${(err as Error).message}`),
    );
  } finally {
    socket.off('close', onClose);
    if (!socket.destroyed) socket.setTimeout(o.stallTimeoutMs);
  }
}
