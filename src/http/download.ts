// Serving blob bytes: ranges and conditional requests decided up front, then a read-ahead pump
// from the blob to the socket that honours backpressure (tryEnd/onWritable, one onWritable per
// response), writes chunks (at most 2 MiB a write) within a budget per turn of the event loop
// shared by all downloads, and releases its file handle and chunks the moment the client goes
// away. The chunks come from a range source (range-source.ts): a mapping of the blob's file where
// the native addon is built and the blob is a local file, else pread into pooled buffers.
import { notFound } from '../domain/errors.js';
import { HttpError } from './errors/http-error.js';
import type { BlobReader } from '../blobs/blob-store.js';
import { httpMetrics } from '../metrics/metrics.js';
import { READ_SLACK } from '../lib/read-placement.js';
import { BufferPool } from './buffer-pool.js';
import type { Exchange, Headers } from './exchange.js';
import { mappedSources } from './mapped-source.js';
import { preadSources } from './pread-source.js';
import type { RangeSource, RangeSourceKind, Slot } from './range-source.js';
import { ReadSize } from './read-size.js';
import { decideRange, etagMatches, ifRangeAllows } from './range.js';
import { statusLine } from './status.js';
import { TurnBudget, type TurnLimits } from './turn-budget.js';
import type { LoopShare } from './loop-share.js';
import type { SocketSend } from './socket-send.js';

// Reads start at 256 KiB and go to 2 MiB for clients that keep up (read-size.ts): fewer round
// trips to the libuv threads per byte (server CPU per GiB under 32 ranged streams). 32 streams hold 128 MiB of 2 MiB buffers,
// the growth budget; past 64 downloads in flight (the memory bench's 200 slow readers) none
// grows, so they hold what they did with fixed 256 KiB reads.
const MIN_READ = 256 * 1024;
const MAX_READ = 2 * 1024 * 1024;
const MIB = 1024 * 1024;
/**
 * What all downloads together copy into their sockets per turn of the event loop (turn-budget.ts),
 * and the largest write, while requests other than downloads arrive. Before the budget, each
 * download wrote 256 KiB slices, a turn between two, with 16 or more in flight: 32 downloads
 * copied up to 8 MiB a turn, in 256 KiB writes (whole 2 MiB writes with no budget saved a third
 * of the CPU per byte and took the resolve p99 during 32 ranged streams from 29-37 ms to 242-309
 * ms: bench/results/20261206T1615Z-download-ranges.md). Under 32 ranged streams, A/B in turns on a
 * loaded machine, against the slices: with 4 MiB 0.50 server CPU-s/GB against 0.64, resolve p99
 * 41 ms against 37 (p50 5.9 against 7.7 ms); with 8 MiB 0.45-0.53 against 0.49-0.83, but resolve
 * p99 33-90 ms against 35-65 (the bare uWS app serving the same streams: 20-50 ms).
 * With no other request for 100 ms, a turn takes 16 MiB in writes as large as the sockets take
 * (not loop-share.ts's 20 ms: resolves under 32 streams take up to 20-33 ms, and a gap that long
 * between two would end the busy turns). Under the 32 streams with no resolves, A/B in turns
 * against 4 MiB in every turn (2026-12-06, 19:27-19:57 UTC, four runs): the
 * server at 43-46% of a core against 49-53% at about the same GB/s (0.19-0.22 CPU-s/GB against
 * 0.20-0.31); 64 MiB quiet turns saved no more. With a resolve every 2 ms the turns stay at 4 MiB:
 * its p99 10.8-14.1 ms against 10.6-13.1 in the same runs, the machine's noise either way.
 */
const TURN: TurnLimits = { busy: 4 * MIB, busyWrite: MAX_READ, quiet: 16 * MIB, quietWrite: Number.POSITIVE_INFINITY, quietMs: 100 };
/** Requests that went to serveBytes: the loop share counts them with the other requests without a body. */
let downloadRequests = 0;
let share: LoopShare | null = null;
const turn = new TurnBudget(TURN, () => (share ? share.otherRequests - downloadRequests : undefined));

/**
 * Downloads keep the busy budget while requests other than downloads arrive; `loopShare` counts
 * the requests without a body. Until this is called every turn is busy.
 */
export function yieldTo(loopShare: LoopShare): void {
  share = loopShare;
}
// Each buffer has room to place its reads (readPlacement: the kernel's copy is slow at the start).
const pool = new BufferPool(MIN_READ, MAX_READ, READ_SLACK, { keepBytes: 128 * MIB, growthBudget: 128 * MIB, crowd: 64 });
const pread = preadSources(pool);
let mapped: RangeSourceKind | null = null;

/**
 * Chooses where the pump takes downloads' bytes from (config server.downloadSource): `auto` and
 * `mmap` map blobs on local disk where the native addon loads, `pread` always reads. (`auto` also
 * sends large bodies with sendfile where it can, bypassing the pump: socket-send.ts.) Returns what is in use, and
 * why, for the start log. `addonPath` is for tests.
 */
export function chooseDownloadSource(setting: 'auto' | 'mmap' | 'pread', addonPath?: string): { source: string; reason?: string } {
  mapped = null;
  if (setting === 'pread') return { source: 'pread', reason: 'server.downloadSource is pread' };
  // Many downloads in flight map what their buffers would hold then (the pool's crowd rule).
  const kind = mappedSources(MAX_READ, (size) => pool.allowed(size), addonPath);
  if (typeof kind === 'string') return { source: 'pread', reason: kind };
  mapped = kind;
  return { source: `${kind.name} for blobs on local disk, pread for the rest` };
}

function openSource(reader: BlobReader, start: number, end: number): RangeSource {
  return mapped?.open(reader, start, end) ?? pread.open(reader, start, end)!;
}

export interface Representation {
  size: number;
  etag: string;
  headers: Headers;
  open(): Promise<BlobReader | null>;
}

/**
 * Serves the representation; resolves with the number of body bytes handed to the client. With
 * `sender`, a large body of a local file goes out with sendfile (socket-send.ts).
 */
export async function serveBytes(x: Exchange, rep: Representation, sender: SocketSend | null = null): Promise<number> {
  downloadRequests++;
  const base: Headers = { ...rep.headers, ETag: rep.etag, 'Accept-Ranges': 'bytes' };
  if (etagMatches(x.headers.ifNoneMatch, rep.etag)) {
    x.send(304, null, base);
    return 0;
  }
  let start = 0;
  let end = rep.size - 1;
  let status = 200;
  const decision = ifRangeAllows(x.headers.ifRange, rep.etag) ? decideRange(x.headers.range, rep.size) : { kind: 'full' as const };
  if (decision.kind === 'invalid' || decision.kind === 'unsatisfiable') {
    throw new HttpError(
      416,
      decision.kind === 'invalid' ? 'RANGE_INVALID' : 'RANGE_NOT_SATISFIABLE',
      decision.kind === 'invalid' ? decision.reason : `range "${x.headers.range.slice(0, 80)}" is outside the ${rep.size} bytes available`,
      undefined,
      { 'Content-Range': `bytes */${rep.size}`, 'Accept-Ranges': 'bytes' },
    );
  }
  if (decision.kind === 'partial') {
    status = 206;
    start = decision.start;
    end = decision.end;
    base['Content-Range'] = `bytes ${start}-${end}/${rep.size}`;
  }
  const length = end - start + 1;
  if (x.method === 'HEAD') {
    x.send(status, null, base, length);
    return 0;
  }
  if (length === 0) {
    x.send(status, '', base);
    return 0;
  }
  const reader = await rep.open();
  if (!reader) throw notFound('BLOB_NOT_FOUND', 'the blob behind this file is missing from storage');
  if (x.aborted) {
    await reader.close();
    return 0;
  }
  // A reader with settled() may hand out bytes before they are verified: only the pump waits for that.
  const sending = sender && reader.fd !== undefined && !reader.settled ? sender.trySend(x, reader.fd, status, base, start, length) : null;
  if (sending) return finishSend(x, reader, sending, status, length);
  return pump(x, reader, status, base, start, length);
}

/** Waits for a body sent with sendfile, then closes the connection it was sent on (socket-send.ts). */
async function finishSend(x: Exchange, reader: BlobReader, sending: Promise<number>, status: number, length: number): Promise<number> {
  httpMetrics.transferStarted('download');
  let sent = 0;
  try {
    sent = await sending;
  } finally {
    httpMetrics.served(sent);
    httpMetrics.transferEnded('download');
    if (sent === length) {
      x.finished = true;
      x.record(status);
      if (!x.aborted) x.res.close();
    } else x.cut();
    await reader.close();
  }
  return sent;
}

async function pump(x: Exchange, reader: BlobReader, status: number, headers: Headers, start: number, length: number): Promise<number> {
  const res = x.res;
  pool.active++;
  const source = openSource(reader, start, start + length);
  let waitingForWritable: ((ok: boolean) => void) | null = null;
  let pendingChunk: Buffer | null = null;
  let chunkOffset = 0;
  httpMetrics.transferStarted('download');

  x.onAbort(() => waitingForWritable?.(false));
  /**
   * Writes the pending chunk, at most turn.maxWrite bytes a write, while the turn has budget and the
   * socket takes each write whole: `out` once all of it went out, `full` when the socket took
   * less (uWS then polls it for writability), `budget` when the turn's budget is spent first.
   */
  const writeSome = (): 'out' | 'full' | 'budget' => {
    const chunk = pendingChunk!;
    for (;;) {
      const before = res.getWriteOffset();
      const from = before - chunkOffset;
      const piece = chunk.subarray(from, from + turn.maxWrite);
      const [ok, done] = res.tryEnd(piece, length);
      // A finished response must not be touched again: all of the rest went out.
      turn.spend(done ? piece.length : res.getWriteOffset() - before);
      if (done || (ok && from + piece.length >= chunk.length)) return 'out';
      if (!ok) return 'full';
      if (turn.exhausted) return 'budget';
    }
  };
  const chunkOut = (): void => {
    const wake = waitingForWritable!;
    waitingForWritable = null;
    pendingChunk = null;
    wake(true);
  };
  /**
   * The socket can take more but this turn's budget is spent: write in a later turn. Returning
   * from onWritable without a failed write stops uWS polling the socket for writability, and a
   * write that fails again restarts it.
   */
  const writeLater = (): void => {
    setImmediate(() => {
      if (x.aborted || !pendingChunk || !waitingForWritable) return;
      if (turn.exhausted) writeLater();
      else res.cork(continueWriting);
    });
  };
  /** Goes on with the pending chunk; false where the socket is full (onWritable's answer). */
  const continueWriting = (): boolean => {
    const state = writeSome();
    if (state === 'out') chunkOut();
    else if (state === 'budget') writeLater();
    return state !== 'full';
  };
  res.onWritable(() => {
    if (!pendingChunk || !waitingForWritable) return true;
    if (!turn.exhausted) return continueWriting();
    writeLater();
    return true;
  });

  /**
   * Hands a chunk to uWS in a turn with budget left; resolves null if the client left, else
   * whether the socket could not take all of it at once.
   */
  const handOver = async (chunk: Buffer): Promise<boolean | null> => {
    await turn.wait();
    if (x.aborted) return null;
    let state: 'out' | 'full' | 'budget' = 'out';
    chunkOffset = res.getWriteOffset();
    pendingChunk = chunk;
    res.cork(() => {
      if (!x.headersSent) {
        res.writeStatus(statusLine(status));
        for (const key in headers) res.writeHeader(key, headers[key]!);
        x.headersSent = true;
      }
      state = writeSome();
    });
    if (state === 'out') {
      pendingChunk = null;
      return false;
    }
    const accepted = new Promise<boolean>((resolve) => (waitingForWritable = resolve));
    if (state === 'budget') writeLater();
    return (await accepted) ? true : null;
  };

  let sent = 0;
  let slot: Slot = 0;
  const readSize = new ReadSize(MIN_READ, MAX_READ);
  /**
   * Starts a fetch that is awaited only after the previous chunk went out (one or more turns of
   * the event loop later, between slices or while the socket is full). A rejection meanwhile (an
   * edge-cache fill that failed verification, S3 gone) must not count as unhandled, which would
   * end the process: it is marked handled here and still thrown where the fetch is awaited.
   */
  const fetchAhead = (slot: Slot, position: number): Promise<Buffer> => {
    // A window's larger chunks only in quiet turns: while other requests arrive the pump goes on
    // as it did with 2 MiB chunks, so what a resolve waits for is what it was.
    const size = turn.quiet && source.chunkSize ? source.chunkSize : readSize.size;
    const fetching = source.fetch(slot, position, size);
    fetching.catch(() => undefined);
    return fetching;
  };
  let fetching: Promise<Buffer> | null = fetchAhead(0, start);
  try {
    while (fetching) {
      const chunk = await fetching;
      fetching = null;
      if (chunk.length <= 0) throw new Error(`blob ended early: ${sent} of ${length} bytes sent`);
      const nextAt = sent + chunk.length;
      if (nextAt < length) {
        // The other slot's chunk has been taken by the socket: it may be fetched into now.
        slot = slot === 0 ? 1 : 0;
        fetching = fetchAhead(slot, start + nextAt);
      } else if (reader.settled) {
        await reader.settled();
      }
      const handed = await handOver(chunk);
      if (handed === null) break;
      sent = nextAt;
      readSize.handed(sent, handed);
    }
    if (sent === length) {
      x.finished = true;
      x.record(status);
    }
  } catch (err) {
    x.fail(err);
  } finally {
    // A fetch still in flight must land before its slot is freed.
    if (fetching) await (fetching as Promise<Buffer>).catch(() => null);
    httpMetrics.served(sent);
    httpMetrics.transferEnded('download');
    if (!x.finished) x.cut();
    source.close();
    pool.active--;
    await reader.close();
  }
  return sent;
}
