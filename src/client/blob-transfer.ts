// Blob bytes over the lean HTTP/1.1 connection: exact byte ranges down (every status, Content-Range
// and length checked, so a partial transfer never passes for a complete one) and whole blobs up
// in one streamed request (Content-Length when this uWS build accepts it, chunked above that).
import type { Socket } from 'node:net';
import { apiErrorFromText } from './api-error.js';
import { READ_CHUNK_BYTES } from './body-chunks.js';
import { parseContentRange } from './content-range.js';
import { ModelgateTransferError } from './errors.js';
import { fileSender, plainSocketFd, sendFileBody } from './file-send.js';
import { endpointOf, Http1Connection, type ConnectionOptions, type Endpoint, type ResponseSink } from './http1-connection.js';
import { paceAfter, stepSize, type RateLimiter } from './rate-limiter.js';
import type { ByteRange, StoredBlob } from './types.js';
import { paths } from './urls.js';

/**
 * The largest Content-Length the server's HTTP layer accepts: its uWebSockets.js build refuses a
 * 10-digit Content-Length. Larger bodies go with chunked transfer encoding; the server's digest
 * and size checks still catch a body that is not what was announced.
 */
export const MAX_DECLARED_CONTENT_LENGTH = 999_999_999;

/** Error bodies are read whole to report the server's message; anything longer is cut off. */
const MAX_ERROR_BODY = 64 * 1024;
/** A JSON answer read over the lean connection (a stack's resolution can be large) is refused beyond this. */
const MAX_JSON_BODY = 256 * 1024 * 1024;

export interface TransferTarget {
  baseUrl: string;
  token?: string;
  /** Sent as X-Modelgate-Deployment, so the gateway's fleet view knows who pulled. */
  deployment?: string;
}

function requestHead(method: string, endpoint: Endpoint, path: string, target: TransferTarget, headers: Record<string, string>): string {
  const lines = [`${method} ${endpoint.pathPrefix}${path} HTTP/1.1`, 'Accept: application/json'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (target.token) lines.push(`Authorization: Bearer ${target.token}`);
  if (target.deployment) lines.push(`X-Modelgate-Deployment: ${target.deployment}`);
  return lines.join('\r\n');
}

/** Collects a small response body (JSON answers and error bodies), up to `limit` bytes. */
class TextSink implements ResponseSink {
  private readonly chunks: Buffer[] = [];
  private length = 0;
  status = 0;

  constructor(private readonly limit = MAX_ERROR_BODY) {}

  onHead(head: { status: number }, contentLength?: number): void {
    this.status = head.status;
    if (this.limit > MAX_ERROR_BODY && contentLength !== undefined && contentLength > this.limit)
      throw new ModelgateTransferError(`a ${contentLength}-byte answer, more than the ${this.limit} bytes read whole`);
  }

  onBody(buffer: Buffer, offset: number, length: number): void {
    if (this.length >= this.limit) return;
    this.chunks.push(Buffer.from(buffer.subarray(offset, offset + length)));
    this.length += length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * `GET path` over a connection of its own, its whole answer as text with the status: one file
 * (net) and no HTTP machinery to load, so the first request of a pull leaves sooner than through
 * node:http. `onSent` is called once the request is written. Throws NoContentLengthError for an answer without a Content-Length (which a proxy in
 * between may send); the caller then asks again through node:http.
 */
export async function getText(
  target: TransferTarget,
  path: string,
  signal?: AbortSignal,
  onSent?: () => void,
): Promise<{ status: number; text: string }> {
  const connection = new Http1Connection(endpointOf(target.baseUrl), { readBufferSize: 64 * 1024 });
  const answer = new TextSink(MAX_JSON_BODY);
  // No body: the hook runs right after the head went to the socket.
  const sent = onSent && (async () => onSent());
  try {
    await connection.request(requestHead('GET', connection.endpoint, path, target, {}), answer, signal, sent);
  } finally {
    connection.close();
  }
  return { status: answer.status, text: answer.text() };
}

/** One keep-alive connection reading byte ranges of blobs; use one per concurrent stream. */
export class BlobRangeReader {
  private readonly connection: Http1Connection;

  constructor(
    private readonly target: TransferTarget,
    options: ConnectionOptions = {},
  ) {
    this.connection = new Http1Connection(endpointOf(target.baseUrl), options);
  }

  /** Hands exactly bytes `range.start..range.end` to `onBytes` in order (each chunk valid only during the call), or throws. */
  async read(
    digest: string,
    range: ByteRange,
    onBytes: (buffer: Buffer, offset: number, length: number) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const path = paths.blob(digest);
    const wanted = `bytes ${range.start}-${range.end}/${range.size}`;
    const expected = range.end - range.start + 1;
    let error: TextSink | null = null;
    const sink: ResponseSink = {
      onHead: (head, contentLength) => {
        if (head.status >= 400 && contentLength <= MAX_ERROR_BODY) {
          error = new TextSink();
          error.onHead(head);
          return;
        }
        const header = head.headers.get('content-range') ?? null;
        const got = parseContentRange(header);
        if (head.status !== 206 || !got || got.start !== range.start || got.end !== range.end || got.size !== range.size) {
          throw new ModelgateTransferError(`asked ${digest} for ${wanted}, got HTTP ${head.status} with Content-Range "${header ?? ''}"`);
        }
        if (contentLength !== expected) throw new ModelgateTransferError(`asked ${digest} for ${wanted}, got a ${contentLength}-byte body`);
      },
      onBody: (buffer, offset, length) => (error ? error.onBody(buffer, offset, length) : onBytes(buffer, offset, length)),
    };
    const head = requestHead('GET', this.connection.endpoint, path, this.target, {
      Range: `bytes=${range.start}-${range.end}`,
      // Content-Range counts encoded bytes; identity keeps them equal to the blob's bytes.
      'Accept-Encoding': 'identity',
    });
    await this.connection.request(head, sink, signal);
    const failed = error as TextSink | null;
    if (failed) throw apiErrorFromText(failed.status, failed.text(), 'GET', path);
  }

  close(): void {
    this.connection.close();
  }
}

/** Reads up to `length` bytes of the source at `position` into `buffer`; 0 means the end. */
export type PositionedRead = (buffer: Buffer, length: number, position: number) => Promise<number>;

export interface UploadOptions {
  /** Bytes read and written per step; two such buffers are reused for the whole upload. */
  chunkSize?: number;
  limiter?: RateLimiter;
  /** Bytes handed to the connection so far (negative to take back after a failure is up to the caller). */
  onProgress?(bytes: number): void;
  signal?: AbortSignal;
  stallTimeoutMs?: number;
  /**
   * Where in its buffer each read of the source goes, for a source whose reads are faster at some
   * places than others (a local file: see the CLI's readPlacement): `offset(position)` for a read
   * at source position `position`, within `slack` spare bytes per buffer.
   */
  placement?: { slack: number; offset(position: number): number };
  /**
   * The source is this open file (`read` reads the same bytes at the same positions): over plain
   * http the body then goes from the file to the socket with sendfile(2) where the native addon
   * is built (file-send.ts), and through `read` otherwise.
   */
  sourceFd?: number;
}

/** Streams `size` bytes of a source as `POST /v1/blobs?digest=`: one request, stored only if they hash to `digest`. */
export async function uploadBlobStream(
  target: TransferTarget,
  digest: string,
  size: number,
  read: PositionedRead,
  options: UploadOptions = {},
): Promise<StoredBlob> {
  const path = paths.blobUpload(digest);
  const stored = await sendBytes<StoredBlob>(target, 'POST', path, {}, { start: 0, length: size }, read, options);
  checkStoredSize(stored, digest, size);
  return stored;
}

/**
 * Appends source bytes `start..start+length-1` to a resumable upload session (`PATCH` with
 * `Content-Range: bytes a-b/*`); returns the session's offset afterwards.
 */
export async function appendUploadStream(
  target: TransferTarget,
  id: string,
  start: number,
  length: number,
  read: PositionedRead,
  options: UploadOptions = {},
): Promise<number> {
  const headers = { 'Content-Range': `bytes ${start}-${start + length - 1}/*` };
  const answer = await sendBytes<{ offset: number }>(target, 'PATCH', paths.upload(id), headers, { start, length }, read, options);
  if (!Number.isSafeInteger(answer.offset)) throw new ModelgateTransferError(`PATCH ${paths.upload(id)} answered without an offset`);
  return answer.offset;
}

/** One request whose body is `part` of the source, on a connection of its own; the JSON answer or an error. */
async function sendBytes<T>(
  target: TransferTarget,
  method: string,
  path: string,
  headers: Record<string, string>,
  part: { start: number; length: number },
  read: PositionedRead,
  options: UploadOptions,
): Promise<T> {
  const connection = new Http1Connection(endpointOf(target.baseUrl), { readBufferSize: 64 * 1024, stallTimeoutMs: options.stallTimeoutMs });
  const chunked = part.length > MAX_DECLARED_CONTENT_LENGTH;
  const head = requestHead(method, connection.endpoint, path, target, {
    'Content-Type': 'application/octet-stream',
    ...headers,
    ...(chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(part.length) }),
  });
  const answer = new TextSink();
  try {
    await connection.request(head, answer, options.signal, (socket, headWritten) => {
      const sender = options.sourceFd === undefined ? null : fileSender();
      const socketFd = sender ? plainSocketFd(socket) : null;
      if (!sender || socketFd === null || part.length === 0) return sendBody(socket, part, chunked, read, options);
      return sendFileBody(sender, socket, socketFd, headWritten, {
        fd: options.sourceFd!,
        ...part,
        chunked,
        stallTimeoutMs: connection.stallTimeoutMs,
        limiter: options.limiter,
        onProgress: options.onProgress,
      });
    });
  } finally {
    connection.close();
  }
  if (answer.status >= 400) throw apiErrorFromText(answer.status, answer.text(), method, path);
  try {
    return JSON.parse(answer.text()) as T;
  } catch {
    throw new ModelgateTransferError(
      `the server answered ${method} ${path} with something that is not JSON: ${answer.text().slice(0, 200)}`,
    );
  }
}

export function checkStoredSize(stored: StoredBlob, digest: string, size: number): void {
  if (stored.size !== size) throw new ModelgateTransferError(`the server stored ${stored.size} bytes for ${digest}, not the ${size} sent`);
}

/**
 * Reads the next chunk while the previous one is being written: two buffers, each reused once the
 * socket has taken its bytes. Stops quietly when the socket goes away (the server answered early,
 * or the connection broke): the exchange reports that.
 */
async function sendBody(
  socket: Socket,
  part: { start: number; length: number },
  chunked: boolean,
  read: PositionedRead,
  options: UploadOptions,
): Promise<void> {
  const size = part.length;
  const chunkSize = stepSize(options.chunkSize ?? READ_CHUNK_BYTES, options.limiter);
  const length = Math.min(chunkSize, Math.max(size, 1));
  const slack = options.placement?.slack ?? 0;
  const buffers = [Buffer.allocUnsafe(length + slack), Buffer.allocUnsafe(length + slack)];
  const written: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
  const write = (data: Buffer | string) => new Promise<void>((resolve) => socket.write(data, () => resolve()));
  for (let position = 0, turn = 0; position < size; turn ^= 1) {
    await written[turn];
    if (socket.destroyed) return;
    const at = options.placement?.offset(part.start + position) ?? 0;
    const buffer = buffers[turn]!.subarray(at, at + length);
    const n = await read(buffer, Math.min(length, size - position), part.start + position);
    if (n <= 0) {
      socket.destroy(new ModelgateTransferError(`the source ended after ${part.start + position} of ${part.start + size} bytes`));
      return;
    }
    position += n;
    await paceAfter(options.limiter, n);
    if (socket.destroyed) return;
    if (chunked) socket.write(`${n.toString(16)}\r\n`);
    written[turn] = write(buffer.subarray(0, n));
    if (chunked) socket.write('\r\n');
    options.onProgress?.(n);
  }
  await Promise.all(written);
  if (chunked && !socket.destroyed) socket.write('0\r\n\r\n');
}
