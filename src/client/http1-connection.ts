// A lean HTTP/1.1 connection for bulk transfers (blob ranges down, blobs up). fetch (undici) costs
// a WHATWG stream, a fresh buffer and several promises per chunk, which at a gigabyte a second is
// more CPU than the hashing; here the socket reads into ONE reused buffer (`onread`) and the
// caller consumes each chunk synchronously, before the next read overwrites it. One request at a
// time; the socket is kept alive between requests. Responses must carry a Content-Length (modelgate
// always sends one); anything else is refused, never guessed at. node:tls loads only for an https
// server: a command's start-up does not pay for it otherwise.
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ModelgateConnectionError, ModelgateTransferError } from './errors.js';
import type { RateLimiter } from './rate-limiter.js';

export interface Endpoint {
  tls: boolean;
  host: string;
  port: number;
  /** Path prefix of the base URL without a trailing slash ('' for none). */
  pathPrefix: string;
  /** `Host` header value. */
  hostHeader: string;
}

export function endpointOf(baseUrl: string): Endpoint {
  const url = new URL(baseUrl);
  const tls = url.protocol === 'https:';
  // URL keeps IPv6 literals in brackets; net.connect wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    tls,
    host,
    port: url.port ? Number(url.port) : tls ? 443 : 80,
    pathPrefix: url.pathname.replace(/\/+$/, ''),
    hostHeader: url.host,
  };
}

export interface ResponseHead {
  status: number;
  /** Lower-case names; a repeated header keeps its last value. */
  headers: Map<string, string>;
}

export interface ResponseSink {
  /** Status and headers are in; throwing refuses the body (the connection is then closed). */
  onHead(head: ResponseHead, contentLength: number): void;
  /** `length` bytes at `buffer[offset]`, valid only during this call. */
  onBody(buffer: Buffer, offset: number, length: number): void;
}

export interface ConnectionOptions {
  /** Size of the one read buffer. */
  readBufferSize?: number;
  /** An attempt with no bytes in either direction for this long fails. */
  stallTimeoutMs?: number;
  /** Shared by every connection of a transfer: reading pauses while it is over budget. */
  limiter?: RateLimiter;
  /**
   * Where socket reads land, instead of the one read buffer: lets the caller keep received bytes
   * (shared memory a hashing thread reads) without copying them.
   */
  receiveBuffers?: ReceiveBuffers;
}

/**
 * A supplier of read buffers. Each socket read fills the buffer `next()` returned before it, and
 * is reported through `filled(n)` before its bytes reach the sink (as a view of that buffer).
 * When the buffer `next()` would return now is still in use, `whenFree()` returns a promise and
 * reading pauses until it settles.
 */
export interface ReceiveBuffers {
  next(): Buffer;
  filled(n: number): void;
  whenFree(): Promise<void> | null;
}

type OnRead = { buffer: Buffer | (() => Buffer); callback(n: number, buffer: Buffer): boolean };
type ConnectionOptionsWithOnRead = TlsOptions & { onread: OnRead };

/** An answer without a Content-Length (chunked, or delimited by the connection's end): refused, never guessed at. */
export class NoContentLengthError extends ModelgateTransferError {}

const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

interface Exchange {
  sink: ResponseSink;
  /** Header bytes gathered so far (copied out of the read buffer). */
  head: Buffer[];
  headLength: number;
  /** Body bytes still expected, once the head is in. */
  remaining: number | null;
  keepAlive: boolean;
  resolve(head: ResponseHead): void;
  reject(err: unknown): void;
  responseHead?: ResponseHead;
}

export class Http1Connection {
  private socket: Socket | null = null;
  private connected: Promise<void> | null = null;
  private current: Exchange | null = null;
  private readonly readBuffer: Buffer | null;
  /** An attempt with no bytes in either direction for this long fails. */
  readonly stallTimeoutMs: number;
  /** Why reading is paused (the rate limit, buffers in use); it resumes when none is left. */
  private readonly pausedFor = new Set<string>();

  constructor(
    readonly endpoint: Endpoint,
    private readonly options: ConnectionOptions = {},
  ) {
    this.readBuffer = options.receiveBuffers ? null : Buffer.allocUnsafe(options.readBufferSize ?? 1024 * 1024);
    this.stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
  }

  /**
   * Sends `head` (request line and headers, without the blank line), then whatever `sendBody`
   * writes, and hands the response to `sink`. Resolves once the whole body arrived. `sendBody`
   * starts at once; `headWritten` settles when the head has gone to the kernel (a body written
   * past Node, straight to the socket's descriptor, must wait for it).
   */
  async request(
    head: string,
    sink: ResponseSink,
    signal?: AbortSignal,
    sendBody?: (socket: Socket, headWritten: Promise<void>) => Promise<void>,
  ): Promise<ResponseHead> {
    signal?.throwIfAborted();
    if (this.current) throw new Error('Http1Connection carries one request at a time');
    const socket = await this.connect();
    const done = new Promise<ResponseHead>((resolve, reject) => {
      this.current = { sink, head: [], headLength: 0, remaining: null, keepAlive: true, resolve, reject };
    });
    const onAbort = () => this.fail(signal!.reason ?? new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const headWritten = new Promise<void>((resolve, reject) =>
        socket.write(`${head}\r\nHost: ${this.endpoint.hostHeader}\r\n\r\n`, (err) => (err ? reject(err) : resolve())),
      );
      // A head that did not go out fails the exchange through the socket's error.
      headWritten.catch(() => undefined);
      // The body goes out while the answer is awaited: a server may answer (and refuse) early.
      // A failure to produce the body (the source broke) fails the exchange.
      sendBody?.(socket, headWritten).catch((err: unknown) => {
        if (this.socket === socket) this.fail(err);
      });
      return await done;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
    this.connected = null;
  }

  private connect(): Promise<Socket> {
    if (this.socket && this.connected) return this.connected.then(() => this.socket!);
    if (this.endpoint.tls) {
      const opening: Promise<Socket> = import('node:tls').then(({ connect: connectTls }) => {
        // Closed while node:tls loaded: open nothing.
        if (this.connected !== loading) throw new ModelgateTransferError(`the connection to ${this.endpoint.hostHeader} was closed`);
        return this.open(connectTls);
      });
      const loading: Promise<void> = opening.then(() => undefined);
      loading.catch(() => undefined);
      this.connected = loading;
      return opening;
    }
    return this.open(null);
  }

  private open(connectTls: typeof import('node:tls').connect | null): Promise<Socket> {
    const { endpoint } = this;
    const supplier = this.options.receiveBuffers;
    const onread: OnRead = {
      buffer: supplier ? () => supplier.next() : this.readBuffer!,
      callback: (n, buffer) => this.onRead(n, buffer),
    };
    const socket = connectTls
      ? // tls.connect takes `onread` too (Node ≥ 15), though @types/node does not declare it.
        // SNI names a host, never an address (RFC 6066; Node warns when given one).
        connectTls({
          host: endpoint.host,
          port: endpoint.port,
          ...(isIP(endpoint.host) ? {} : { servername: endpoint.host }),
          onread,
        } as ConnectionOptionsWithOnRead)
      : connectTcp({ host: endpoint.host, port: endpoint.port, onread, noDelay: true });
    this.socket = socket;
    this.pausedFor.clear();
    socket.setTimeout(this.stallTimeoutMs, () => {
      socket.destroy(new ModelgateTransferError(`no data for ${this.stallTimeoutMs / 1000}s from ${endpoint.hostHeader}`));
    });
    // Events of a socket this connection has already let go of concern nobody.
    socket.on('error', (err) => {
      if (this.socket === socket) this.fail(err instanceof ModelgateTransferError ? err : connectionError(endpoint, err));
    });
    socket.on('close', () => {
      if (this.socket === socket) this.fail(new ModelgateTransferError(`the connection to ${endpoint.hostHeader} closed mid-response`));
    });
    const connected = new Promise<void>((resolve, reject) => {
      socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', (err) => reject(connectionError(endpoint, err)));
    });
    this.connected = connected;
    return connected.then(() => socket);
  }

  private onRead(n: number, buffer: Buffer): boolean {
    this.options.receiveBuffers?.filled(n);
    const x = this.current;
    if (!x) {
      // Bytes nobody asked for: the connection is out of step; drop it.
      this.close();
      return false;
    }
    let offset = 0;
    try {
      if (x.remaining === null) {
        offset = this.takeHead(x, buffer, n);
        if (offset < 0) return true;
      }
      const length = n - offset;
      if (length > x.remaining!) throw new ModelgateTransferError(`the server sent more than the ${x.remaining} body bytes it announced`);
      if (length > 0) {
        x.remaining! -= length;
        x.sink.onBody(buffer, offset, length);
        this.throttle(length);
      }
      if (x.remaining === 0) this.complete(x);
      this.waitForBuffers();
    } catch (err) {
      this.fail(err);
    }
    return true;
  }

  /** Gathers header bytes; returns where the body starts in the read buffer, or -1 while the head is incomplete. */
  private takeHead(x: Exchange, buffer: Buffer, n: number): number {
    const piece = Buffer.from(buffer.subarray(0, n));
    x.head.push(piece);
    x.headLength += n;
    const all = x.head.length === 1 ? piece : Buffer.concat(x.head);
    const end = all.indexOf(HEAD_END);
    if (end < 0) {
      if (x.headLength > MAX_HEAD_BYTES) throw new ModelgateTransferError(`response headers longer than ${MAX_HEAD_BYTES} bytes`);
      return -1;
    }
    const head = parseHead(all.subarray(0, end).toString('latin1'));
    const lengthHeader = head.headers.get('content-length');
    if (lengthHeader === undefined || !/^[0-9]{1,16}$/.test(lengthHeader)) {
      throw new NoContentLengthError(
        `HTTP ${head.status} answer without a usable Content-Length${head.headers.has('transfer-encoding') ? ' (chunked responses are not used for transfers)' : ''}`,
      );
    }
    x.remaining = Number(lengthHeader);
    x.keepAlive = head.headers.get('connection')?.toLowerCase() !== 'close';
    x.responseHead = head;
    x.sink.onHead(head, x.remaining);
    // Body bytes that came with the head are in the read buffer at the same place as in `all`'s last piece.
    return n - (all.length - (end + HEAD_END.length));
  }

  private throttle(bytes: number): void {
    const waitMs = this.options.limiter?.take(bytes) ?? 0;
    if (waitMs > 0) this.pauseUntil('rate', new Promise((r) => setTimeout(r, waitMs)));
  }

  /** The next read must not land in a buffer that is still in use. */
  private waitForBuffers(): void {
    const free = this.options.receiveBuffers?.whenFree();
    if (free) this.pauseUntil('buffers', free);
  }

  /** Reading stops until `until` settles and no other reason to pause is left. */
  private pauseUntil(reason: string, until: Promise<unknown>): void {
    const socket = this.socket;
    if (!socket || this.pausedFor.has(reason)) return;
    this.pausedFor.add(reason);
    socket.pause();
    const resume = () => {
      if (this.socket !== socket) return;
      this.pausedFor.delete(reason);
      if (this.pausedFor.size === 0) socket.resume();
    };
    until.then(resume, resume);
  }

  private complete(x: Exchange): void {
    this.current = null;
    if (!x.keepAlive) this.close();
    x.resolve(x.responseHead!);
  }

  private fail(err: unknown): void {
    const x = this.current;
    this.current = null;
    // A connection that failed mid-exchange is in an unknown state: never reuse it.
    this.close();
    x?.reject(err);
  }
}

function connectionError(endpoint: Endpoint, err: unknown): ModelgateConnectionError {
  return new ModelgateConnectionError(`${endpoint.tls ? 'https' : 'http'}://${endpoint.hostHeader}`, err);
}

function parseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.[01] ([0-9]{3})/.exec(lines[0] ?? '');
  if (!status) throw new ModelgateTransferError(`not an HTTP/1.1 response: "${(lines[0] ?? '').slice(0, 80)}"`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(status[1]), headers };
}
