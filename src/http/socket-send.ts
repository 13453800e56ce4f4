// Download bodies sent from the blob's file with sendfile(2) (native/socket-send.cc): the kernel
// hands the page cache's pages to the socket, so the server neither copies the bytes into socket
// buffers nor holds them in memory. Every other way out of a uWS server copies them from user
// memory; under a 1 GiB curl download that copy was 72% of the server's samples (perf), and the
// server spent 0.60 CPU-s per download against 0.18 for a bare uWS app sending with this addon
// (four downloads each, /proc, 2026-12-07).
//
// The connection is taken from uWS for the body: the response is paused (uWS then neither reads
// the socket nor times it out), the head and body go out on our own duplicate of the socket, and
// the connection is closed after the body ("Connection: close"), since uWS cannot be told that a
// response it did not write has ended. Only for plain http (TLS needs the bytes in user space),
// blobs that are local files, and bodies of at least MIN_BODY bytes: below that a new connection
// per body would cost more than the copy.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Exchange, Headers } from './exchange.js';
import { statusLine } from './status.js';

/** Bodies smaller than this keep the connection (the pump in download.ts) instead. */
export const MIN_BODY = 4 * 1024 * 1024;
/** A client that takes no byte for this long is disconnected (uWS's own timeout for a response in progress). */
const STALL_MS = 10_000;
/**
 * What one download sends each time its socket is writable, before the addon's sender thread
 * turns to the next. A sendfile call runs in the kernel until the socket's buffer is full, and the
 * loopback's receive work runs inside it, so the budget is how long the sender holds a core without
 * a point where the event loop's thread can be given it, and how finely the 32 streams of the
 * bench share the sender. `node dist/bench/run.js download` on the AMD EPYC guest, 2026-12-08
 * (bench/results/20261208T0140Z-download-page-cache-budget.md): 32 ranged streams 0.93× nginx with
 * 4 MiB, 0.95× with 2, 0.95× and 0.99× with 1, 1.12× and 1.05× with 512 KiB; a resolve's p99 under
 * them 3.8 ms above the machine's floor of the same run with 4 MiB, 2.0 with 2, 0.7 and -2.6 with 1,
 * 1.4 and 0.7 with 512 KiB (in the full run after them 1.07× nginx, and 9.0 ms above the floor in
 * a phase whose downloads also ran a third slower). One stream's rounds scatter too widely
 * (0.57-1.97× nginx within one run) to rank the budgets; its server CPU per GB was no higher with
 * 512 KiB (0.19-0.22 CPU-s/GB).
 */
const BYTES_PER_WAKE = 512 * 1024;
const SOCKET_SEND_ADDON = fileURLToPath(new URL('../../native/socket-send.node', import.meta.url));

export interface SocketSendAddon {
  init(): boolean;
  socketOf(res: unknown, localPort: number, peer: ArrayBuffer): number;
  send(
    socketFd: number,
    fileFd: number,
    offset: number,
    length: number,
    head: Buffer,
    stallMs: number,
    budget: number,
    done: (error: string | null, bodyBytes: number) => void,
  ): unknown;
  abort(handle: unknown): void;
}

/**
 * The sender for a server with this download setting (server.downloadSource: `auto` sends with
 * sendfile where it can, `mmap` and `pread` never do) and TLS or not; or null and why not.
 */
export function socketSendFor(setting: 'auto' | 'mmap' | 'pread', tls: boolean): { sender: SocketSend | null; reason: string } {
  if (setting !== 'auto') return { sender: null, reason: `server.downloadSource is ${setting}` };
  if (tls) return { sender: null, reason: 'TLS needs the bytes in user space' };
  const sender = SocketSend.load();
  if (typeof sender === 'string') return { sender: null, reason: sender };
  return { sender, reason: `bodies of ${MIN_BODY / 1024 / 1024} MiB or more from local files` };
}

export class SocketSend {
  /** The port this server listens on: a descriptor whose local port differs is not this response's socket. */
  private port = -1;

  private constructor(private readonly addon: SocketSendAddon) {}

  /** The sender, or why there is none (addon not built or not loadable, uWS's socket handle not found). */
  static load(): SocketSend | string {
    let addon: SocketSendAddon;
    try {
      addon = createRequire(import.meta.url)(SOCKET_SEND_ADDON) as SocketSendAddon;
    } catch (err) {
      return `native addon not loaded (${(err as Error).message.split('\n')[0]})`;
    }
    if (!addon.init()) return "uWebSockets.js's us_socket_get_native_handle was not found";
    return new SocketSend(addon);
  }

  listeningOn(port: number): void {
    this.port = port;
  }

  /**
   * Sends `status`, `headers` and `length` bytes of `fileFd` from `start` on the connection of `x`,
   * then closes it; resolves with the body bytes sent (all of them, or fewer where the client went
   * away or stopped reading: the connection is closed either way). Null, with nothing sent, where
   * the body is below MIN_BODY or the connection's descriptor cannot be had: serve it another way.
   */
  trySend(x: Exchange, fileFd: number, status: number, headers: Headers, start: number, length: number): Promise<number> | null {
    if (length < MIN_BODY || this.port < 0 || x.aborted) return null;
    const socketFd = this.addon.socketOf(x.res, this.port, x.res.getRemoteAddress());
    if (socketFd < 0) return null;
    let head = `HTTP/1.1 ${statusLine(status)}\r\nDate: ${new Date().toUTCString()}\r\n`;
    for (const key in headers) head += `${key}: ${headers[key]}\r\n`;
    head += `Content-Length: ${length}\r\nConnection: close\r\n\r\n`;
    // uWS stops reading the socket and timing it out: the connection is ours until we close it.
    x.res.pause();
    x.headersSent = true;
    return new Promise<number>((resolve) => {
      let settled = false;
      const handle = this.addon.send(
        socketFd,
        fileFd,
        start,
        length,
        Buffer.from(head, 'latin1'),
        STALL_MS,
        BYTES_PER_WAKE,
        (_error, sent) => {
          settled = true;
          resolve(sent);
        },
      );
      // The addon frees the transfer after its callback: abort only before.
      x.onAbort(() => {
        if (!settled) this.addon.abort(handle);
      });
    });
  }
}
