// Pulls exact byte counts out of one ranged GetObject response body, in order.
// The body is a Node stream; TCP flow control keeps the server from running far ahead of us, so
// the read-ahead a reader holds is the socket's buffers, not buffers of our own.
import type { Readable } from 'node:stream';
import { ShortBodyError } from './errors.js';

export class BodyCursor {
  private readonly chunks: AsyncIterator<Buffer>;
  private leftover: Buffer | null = null;
  private destroyed = false;

  /** `position`..`end` (exclusive) is the range the response announced. */
  constructor(
    private readonly body: Readable,
    public position: number,
    readonly end: number,
    private readonly onBytes?: (n: number) => void,
  ) {
    this.chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  get exhausted(): boolean {
    return this.position >= this.end;
  }

  /** Copies at least one byte (at most `length`) into `target`; throws if the body breaks off. */
  async readInto(target: Buffer, offset: number, length: number): Promise<number> {
    const wanted = Math.min(length, this.end - this.position);
    if (wanted <= 0) return 0;
    if (!this.leftover || this.leftover.length === 0) {
      const { value, done } = await this.chunks.next();
      if (done || !value) {
        throw new ShortBodyError(`S3 response body ended at byte ${this.position} of a range ending at ${this.end}`);
      }
      this.leftover = value;
      this.onBytes?.(value.length);
    }
    const n = Math.min(wanted, this.leftover.length);
    this.leftover.copy(target, offset, 0, n);
    this.leftover = n === this.leftover.length ? null : this.leftover.subarray(n);
    this.position += n;
    return n;
  }

  /**
   * Lets go of the response. A fully read body is drained to its end so that its keep-alive
   * connection goes back to the pool; an unfinished one is destroyed, which drops its connection
   * (the only way to stop a server mid-body over HTTP/1.1).
   */
  release(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.leftover = null;
    if (this.exhausted) this.body.resume();
    else this.body.destroy();
  }
}
