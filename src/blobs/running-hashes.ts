// Upload sessions hashed as their chunks arrive. node:crypto's hash state cannot be saved or moved
// to another process, so a session's running hash lives on the node that received its chunks, in
// a hashing thread's task (see StreamHash). While the chunks arrive in order on this node, each
// continues the hash where the previous one ended, and the commit takes the digest without reading
// the blob back (the fast path). A chunk that starts elsewhere than where this node's hash ends (it
// went to another node, was refused after it was hashed, or the client vanished mid-chunk) ends
// the fast path for that session: the commit then hashes by reading the bytes back.
import { hashMetrics } from '../metrics/metrics.js';
import type { ChunkHash, HashPool, HashResult, StreamHash } from './hash-pool.js';

/** Running hashes kept at once (each is a task on a hashing thread, with its own hash state); the oldest go past this. */
const MAX_RUNNING = 64;

interface Running {
  hash: StreamHash;
  /** The session offset the hash covers. */
  offset: number;
}

export class RunningHashes {
  private readonly running = new Map<string, Running>();
  /** Commits that took the digest from a running hash, and those that read the bytes back (for tests and the bench). */
  readonly counts = { fast: 0, readBack: 0 };

  constructor(private readonly pool: HashPool) {}

  /**
   * The hash a chunk of session `id` starting at `offset` continues, taken out of the table while
   * the chunk is written: the session's running hash if it ends at `offset`, a new one if the
   * chunk starts the session, else null (the commit will read the bytes back).
   */
  claim(id: string, offset: number): StreamHash | null {
    const current = this.running.get(id);
    this.running.delete(id);
    if (current && current.offset === offset) return current.hash;
    current?.hash.abort();
    return offset === 0 ? this.pool.startStream() : null;
  }

  /** Puts a claimed hash back after its chunk was kept; the session now ends at `offset`. */
  keep(id: string, hash: StreamHash, offset: number): void {
    this.running.get(id)?.hash.abort();
    this.running.delete(id);
    this.running.set(id, { hash, offset });
    while (this.running.size > MAX_RUNNING) {
      const [oldest, entry] = this.running.entries().next().value as [string, Running];
      entry.hash.abort();
      this.running.delete(oldest);
    }
  }

  /** Forgets the session's hash (cancelled, expired, or its bytes changed under it). */
  drop(id: string): void {
    this.running.get(id)?.hash.abort();
    this.running.delete(id);
  }

  /**
   * The digest of a session `size` bytes long: from its running hash when that covers exactly
   * those bytes, else from `readBack` (which hashes the stored bytes).
   */
  async digestOf(id: string, size: number, readBack: () => Promise<HashResult>): Promise<HashResult & { readBack: boolean }> {
    const current = this.running.get(id);
    this.running.delete(id);
    if (current && current.offset === size && current.hash.bytes === size) {
      const result = await current.hash.digest();
      this.counts.fast++;
      hashMetrics.sessionCommits.inc({ hashed: 'on_arrival' });
      return { ...result, readBack: false };
    }
    current?.hash.abort();
    this.counts.readBack++;
    hashMetrics.sessionCommits.inc({ hashed: 'read_back' });
    return { ...(await readBack()), readBack: true };
  }
}

/**
 * A hash decided after the body started: chunks wait (their buffers held, which the upload's
 * backpressure bounds) until `resolve` names the hash, or are released at once if there is none.
 */
export class LateHash implements ChunkHash {
  private target: ChunkHash | null | undefined;
  /** Each waiting update: sent to the target once named, or only released (`done`) if there is none. */
  private queued: { send: (hash: ChunkHash) => void; done: () => void }[] = [];
  private aborted = false;

  resolve(hash: ChunkHash | null): void {
    if (this.target !== undefined) return;
    this.target = this.aborted ? null : hash;
    if (this.aborted) hash?.abort();
    for (const { send, done } of this.queued.splice(0)) this.route(send, done);
  }

  update(chunk: Buffer, done: () => void): void {
    this.route((hash) => hash.update(chunk, done), done);
  }

  updateFile(path: string, position: number, length: number, done: () => void): void {
    this.route((hash) => hash.updateFile(path, position, length, done), done);
  }

  private route(send: (hash: ChunkHash) => void, done: () => void): void {
    if (this.target === undefined) this.queued.push({ send, done });
    else if (this.target === null) done();
    else send(this.target);
  }

  async idle(): Promise<void> {
    await this.target?.idle();
  }

  digest(): Promise<HashResult> {
    if (!this.target) throw new Error('no hash to take a digest of');
    return this.target.digest();
  }

  abort(): void {
    this.aborted = true;
    this.target?.abort();
    if (this.target === undefined) {
      // Nothing will hash the queued chunks: give their buffers back.
      for (const { done } of this.queued.splice(0)) done();
    }
  }
}
