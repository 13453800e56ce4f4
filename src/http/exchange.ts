// One request/response pair on uWS. Everything uWS only lends us for the duration of the handler
// (headers, URL) is copied here before the first await, and onAborted is attached at once.
import { refuseUnsupportedAt } from './point-in-time.js';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Principal } from '../domain/principal.js';
import { httpMetrics } from '../metrics/metrics.js';
import { endWithoutBody } from './end-without-body.js';
import type { LoopShare } from './loop-share.js';
import type { Dialect } from './errors/dialect.js';
import { type Headers, HttpError } from './errors/http-error.js';
import type { ErrorPipeline } from './errors/pipeline.js';
import type { InFlight } from './in-flight.js';
import { statusLine } from './status.js';

export interface RequestHeaders {
  authorization: string;
  range: string;
  ifRange: string;
  ifNoneMatch: string;
  contentLength: string;
  contentRange: string;
  contentType: string;
  transferEncoding: string;
  acceptEncoding: string;
  /** X-Modelgate-Deployment: who the caller says it is (fleet telemetry). */
  deployment: string;
  forwardedFor: string;
}

export type { Headers };

type BodyHandler = (chunk: ArrayBuffer, isLast: boolean) => void;

/**
 * Lingering close: an answer given before the request body was read waits until the rest of the
 * body has arrived and been dropped, so the client (still sending) reads it instead of a reset.
 * Only this many more bytes are read, for at most this long; past either bound the answer goes
 * out at once and the connection is closed (the client may then see a reset).
 */
export const LINGER_BYTES = 16 * 1024 * 1024;
export const LINGER_MS = 5_000;

/**
 * A request head (URL and headers) larger than this is refused with 431. The native parser keeps
 * at most 4 KiB of a head that arrives in pieces (it closes the connection past that) but takes a
 * complete head of up to about 64 KiB that arrives in one read, so without this bound whether a
 * large head is served would depend on how the network split it.
 */
export const MAX_HEAD_BYTES = 8 * 1024;

export class Exchange {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: RequestHeaders;
  /** Bytes of the request head as the application sees it: URL, query, header names and values. */
  readonly headBytes: number;
  aborted = false;
  /** Set once the caller is authenticated, so refusals can be attributed. */
  principal: Principal | null = null;
  /** The model the request is about, once known: refusals are filed under it in the audit log. */
  model: string | null = null;
  /** Status line and headers have gone out; an error now can only cut the connection. */
  headersSent = false;
  finished = false;
  /** A request body is still on the wire and will not be read: close the connection after replying. */
  bodyUnread: boolean;
  private readonly started = performance.now();
  private readonly abortHandlers: (() => void)[] = [];
  /** Who gets the body's chunks; until a route takes the body, they are dropped. */
  private bodyHandler: BodyHandler | null = null;
  private bodyBytes = 0;
  private bodyComplete = false;
  /** An answer waiting for the rest of an unread body to be dropped (see LINGER_BYTES). */
  private lingering: { send: () => void; timer: NodeJS.Timeout } | null = null;

  constructor(
    readonly res: HttpResponse,
    req: HttpRequest,
    public route: string,
    private readonly errors: ErrorPipeline,
    /** The loop's share for request bodies (receive.ts charges it; requests without a body count as other work). */
    readonly loopShare: LoopShare,
  ) {
    this.method = req.getCaseSensitiveMethod();
    this.path = req.getUrl();
    this.query = req.getQuery() ?? '';
    this.headers = {
      authorization: req.getHeader('authorization'),
      range: req.getHeader('range'),
      ifRange: req.getHeader('if-range'),
      ifNoneMatch: req.getHeader('if-none-match'),
      contentLength: req.getHeader('content-length'),
      contentRange: req.getHeader('content-range'),
      contentType: req.getHeader('content-type'),
      transferEncoding: req.getHeader('transfer-encoding'),
      acceptEncoding: req.getHeader('accept-encoding'),
      deployment: req.getHeader('x-modelgate-deployment'),
      forwardedFor: req.getHeader('x-forwarded-for'),
    };
    let headBytes = this.path.length + this.query.length;
    req.forEach((key, value) => {
      headBytes += key.length + value.length + 4; // ": " and CRLF
    });
    this.headBytes = headBytes;
    this.bodyUnread = this.hasBody;
    res.onAborted(() => {
      this.aborted = true;
      if (this.lingering) clearTimeout(this.lingering.timer);
      for (const handler of this.abortHandlers) handler();
    });
    // uWS passes body chunks only to a handler attached during the route handler; one attached
    // here serves every route, which takes the body with onBody() or leaves it to be dropped.
    if (this.hasBody) this.attachData();
  }

  private dataAttached = false;

  private attachData(): void {
    if (this.dataAttached) return;
    this.dataAttached = true;
    this.res.onData((chunk, isLast) => this.receive(chunk, isLast));
  }

  /**
   * Hands the body's chunks to `handler` (each valid only during the call). Must be called
   * synchronously in the route handler, before the first chunk can arrive.
   */
  onBody(handler: BodyHandler): void {
    this.bodyHandler = handler;
    // An empty body (Content-Length: 0) still ends with one last, empty chunk.
    this.attachData();
  }

  /** Drops the rest of the body from now on (a route that refused it), instead of handing it on. */
  dropBody(): void {
    this.bodyHandler = null;
  }

  private receive(chunk: ArrayBuffer, isLast: boolean): void {
    this.bodyBytes += chunk.byteLength;
    if (isLast) this.bodyComplete = true;
    const handler = this.bodyHandler;
    if (handler) {
      handler(chunk, isLast);
      return;
    }
    if (this.lingering && (isLast || this.bodyBytes > LINGER_BYTES)) this.endLingering();
  }

  private endLingering(): void {
    const pending = this.lingering;
    if (!pending) return;
    this.lingering = null;
    clearTimeout(pending.timer);
    pending.send();
  }

  /** Whether an answer now should wait for the rest of the body (see LINGER_BYTES). */
  private shouldLinger(): boolean {
    if (!this.bodyUnread || this.bodyComplete || this.aborted) return false;
    const declared = /^[0-9]{1,16}$/.test(this.headers.contentLength) ? Number(this.headers.contentLength) : null;
    // A declared body too large to read through is closed on at once; a chunked one is read up to the bound.
    return declared === null || declared - this.bodyBytes <= LINGER_BYTES;
  }

  get hasBody(): boolean {
    return (this.headers.contentLength !== '' && this.headers.contentLength !== '0') || this.headers.transferEncoding !== '';
  }

  /** A query parameter, decoded; '' when absent. */
  param(name: string): string {
    const params = new URLSearchParams(this.query);
    return params.get(name) ?? '';
  }

  onAbort(handler: () => void): void {
    if (this.aborted) handler();
    else this.abortHandlers.push(handler);
  }

  json(status: number, body: unknown, headers: Headers = {}): void {
    this.send(status, Buffer.from(JSON.stringify(body)), { 'Content-Type': 'application/json', ...headers });
  }

  /**
   * Sends a complete response unless the client is gone. A null body sends no body at all; with
   * `reportedLength` (HEAD) the Content-Length the matching GET would have is announced.
   */
  send(status: number, body: Buffer | string | null, headers: Headers = {}, reportedLength?: number): void {
    if (this.aborted || this.finished) return;
    this.finished = true;
    this.headersSent = true;
    const write = () => {
      if (this.aborted) return;
      // The whole body arrived (and was dropped) while lingering: the connection can stay open.
      const close = this.bodyUnread && !this.bodyComplete;
      this.res.cork(() => {
        this.res.writeStatus(statusLine(status));
        for (const key in headers) this.res.writeHeader(key, headers[key]!);
        if (body === null) endWithoutBody(this.res, reportedLength, close);
        else this.res.end(body, close);
      });
      this.record(status);
    };
    if (!this.shouldLinger()) {
      write();
      return;
    }
    this.bodyHandler = null;
    this.lingering = { send: write, timer: setTimeout(() => this.endLingering(), LINGER_MS) };
  }

  /** The Authorization header as received (or as a route normalised it). */
  get authorization(): string {
    return this.headers.authorization;
  }

  /**
   * Answers a failure through the error pipeline, in the route's dialect: a refusal that must be
   * audited is answered once its audit entry is committed; once bytes are out, the connection is cut.
   */
  fail(err: unknown, dialect?: Dialect): Promise<void> | void {
    return this.errors.fail(this, err, dialect);
  }

  /** Drops the connection so the client sees an incomplete transfer, never a short success. */
  cut(): void {
    if (this.aborted || this.finished) return;
    this.finished = true;
    this.record(0);
    this.res.close();
  }

  record(status: number): void {
    httpMetrics.observe(this.route, this.method, status, (performance.now() - this.started) / 1000);
  }
}

/** What every route needs to answer failures and be waited for at shutdown; built once per server. */
export interface RouteSupport {
  errors: ErrorPipeline;
  inFlight: InFlight;
  loopShare: LoopShare;
}

/** Wraps a route so that every thrown error is answered through the error pipeline (v1 dialect unless the route says otherwise). */
export function route(support: RouteSupport, name: string, handler: (x: Exchange) => void | Promise<void>) {
  return (res: HttpResponse, req: HttpRequest): void => {
    const x = new Exchange(res, req, name, support.errors, support.loopShare);
    if (!x.hasBody) support.loopShare.otherRequests++;
    try {
      if (x.headBytes > MAX_HEAD_BYTES) {
        throw new HttpError(
          431,
          'HEADERS_TOO_LARGE',
          `the request's URL and headers are ${x.headBytes} bytes; at most ${MAX_HEAD_BYTES} are accepted`,
        );
      }
      refuseUnsupportedAt(x.method, x.path, x.query);
      const pending = handler(x);
      if (pending) support.inFlight.track(pending.catch((err: unknown) => x.fail(err)));
    } catch (err) {
      const auditing = x.fail(err);
      if (auditing) support.inFlight.track(auditing);
    }
  };
}
