// Positional reads from one S3 object through ranged GetObject requests.
// A reader keeps one response body open and serves sequential reads from it, so a download (which
// reads in order) costs one request per window, and windows grow while the reads stay sequential.
// A read that jumps elsewhere drops the body and starts a new range there. A body that breaks off
// (reset, idle timeout, 503 on the next request) is resumed from the byte where it stopped, with
// backoff; a read either delivers every byte it promised or throws.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { BlobReader } from '../blob-store.js';
import { BodyCursor } from './body-cursor.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../../lib/retry.js';
import { BlobChangedError, isTransient, type RetryPolicy } from './errors.js';

export interface RangeReaderOptions {
  client: S3Client;
  bucket: string;
  key: string;
  size: number;
  /** The object's LastModified (ms), as the HEAD before the reader saw it. */
  modifiedAt?: number;
  retry: RetryPolicy;
  /** First window of a reader and after every jump: bytes asked for in one request. */
  readAheadBytes: number;
  /** Windows double while reads stay sequential, up to this. */
  maxWindowBytes: number;
  /** Told how many body bytes each response delivered (for metrics). */
  onBytes?: (n: number) => void;
}

export class S3BlobReader implements BlobReader {
  readonly size: number;
  readonly modifiedAt: number | undefined;
  private cursor: BodyCursor | null = null;
  private window: number;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: RangeReaderOptions) {
    this.size = opts.size;
    this.modifiedAt = opts.modifiedAt;
    this.window = opts.readAheadBytes;
  }

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    // Reads share one body, so they run one after another whatever the caller does.
    const run = this.queue.then(() => this.readNow(buffer, offset, length, position));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Drops the open response at once (a read waiting on it fails) and waits for reads to end. */
  async close(): Promise<void> {
    this.closed = true;
    this.dropCursor();
    await this.queue;
    this.dropCursor();
  }

  private async readNow(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (this.closed) throw new Error('read from a closed S3 blob reader');
    const want = Math.max(0, Math.min(length, this.size - position));
    let got = 0;
    let failures = 0;
    while (got < want) {
      const at = position + got;
      try {
        if (!this.cursor || this.cursor.position !== at || this.cursor.exhausted) await this.startRange(at);
        const n = await this.cursor!.readInto(buffer, offset + got, want - got);
        got += n;
        failures = 0; // bytes arrived: the connection works, so the retry budget starts over
      } catch (err) {
        this.dropCursor();
        if (this.closed || !isTransient(err) || ++failures >= this.opts.retry.attempts) throw err;
        await sleep(backoffDelay(failures, this.opts.retry.baseDelayMs));
      }
    }
    return want;
  }

  private async startRange(at: number): Promise<void> {
    const sequential = this.cursor?.exhausted === true && this.cursor.position === at;
    this.window = sequential ? Math.min(this.window * 2, this.opts.maxWindowBytes) : this.opts.readAheadBytes;
    this.dropCursor();
    const last = Math.min(this.size, at + this.window) - 1;
    const res = await this.opts.client.send(
      new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.opts.key, Range: `bytes=${at}-${last}` }),
    );
    const body = res.Body as Readable | undefined;
    if (!body) throw new Error(`GetObject ${this.opts.key} returned no body`);
    let start = 0;
    let end = this.size;
    let total = res.ContentLength ?? 0;
    const range = res.ContentRange ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.ContentRange) : null;
    if (range) {
      start = Number(range[1]);
      end = Number(range[2]) + 1;
      total = range[3] === '*' ? this.size : Number(range[3]);
    }
    if (total !== this.size) {
      body.destroy();
      throw new BlobChangedError(`object ${this.opts.key} now has ${total} bytes; it had ${this.size} when opened`);
    }
    if (start !== at || end <= at) {
      body.destroy();
      throw new Error(`GetObject ${this.opts.key} answered bytes ${start}-${end - 1} to a request for bytes ${at}-${last}`);
    }
    this.cursor = new BodyCursor(body, at, end, this.opts.onBytes);
  }

  private dropCursor(): void {
    this.cursor?.release();
    this.cursor = null;
  }
}
