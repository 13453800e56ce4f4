// Piscina worker: sha256 with node:crypto, off the event loop that serves resolves.
// node:crypto hash objects cannot move between threads and piscina has no task affinity, so an
// upload's hash lives in one long-running task fed through a MessagePort; a worker runs many such
// tasks at once (concurrentTasksPerWorker). bench/RESULTS.md has the measurement behind the choice.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { MessagePort } from 'node:worker_threads';
import { hashFileRange } from '../src/lib/hash-file-range.js';
import { READ_SLACK } from '../src/lib/read-placement.js';

export interface HashResult {
  hex: string;
  size: number;
}

/** Bytes to hash, in memory the sender shares with this thread (it writes them to disk meanwhile). */
export interface HashChunk {
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

/**
 * Bytes to hash that the sender already wrote to a local file (an upload written straight from
 * the socket's chunks): read back here, from the page cache, so the sender copies nothing.
 */
export interface HashFileChunk {
  path: string;
  position: number;
  length: number;
}

/**
 * One read buffer for the thread: the tasks on it run one message at a time, and each message's
 * read and hash finish before the next begins. Smaller than the L2 cache, so the hash reads what
 * the read just put there.
 */
const READ_BYTES = 512 << 10;
// With room to place each read where the kernel's copy out of the page cache is fast (readPlacement).
const readBuffer = Buffer.allocUnsafeSlow(READ_BYTES + READ_SLACK);

/** Hashing yields to the event loop that serves requests when the cores are busy. */
const NICENESS = 10;

/**
 * Lowers this thread's scheduling priority. On Linux a thread is a task with its own id, which
 * /proc/thread-self names, and setpriority(2) on that id renices the thread alone (the main
 * thread keeps its priority). Elsewhere, or if not permitted, hashing keeps the normal priority.
 */
function lowerThreadPriority(): void {
  if (process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) setPriority(tid, NICENESS);
  } catch {
    // Not permitted or no /proc: hashing runs at normal priority.
  }
}
lowerThreadPriority();

/**
 * Messages on the port: a HashChunk or a HashFileChunk to hash, answered (in order) with its
 * length once hashed so the sender can reuse the buffer (or knows how far the hash has come);
 * 'end' to finish; 'abort' to give up. Bytes missing from the file fail the task.
 */
export function hashStream({ port }: { port: MessagePort }): Promise<HashResult | null> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    let settled = false;
    let fd: number | null = null;
    let fdPath = '';
    const closeFile = () => {
      if (fd !== null) closeSync(fd);
      fd = null;
    };
    const finish = (result: HashResult | null, err?: Error) => {
      if (settled) return;
      settled = true;
      closeFile();
      port.close();
      if (err) reject(err);
      else resolve(result);
    };
    const fromFile = ({ path, position, length }: HashFileChunk) => {
      if (fd === null || fdPath !== path) {
        closeFile();
        fd = openSync(path, 'r');
        fdPath = path;
      }
      const hashed = hashFileRange(hash, fd, readBuffer, position, length);
      if (hashed < length)
        throw new Error(`${path} ends at byte ${position + hashed}, before byte ${position + length} which was written to it`);
    };
    port.on('message', (msg: HashChunk | HashFileChunk | 'end' | 'abort') => {
      if (settled) return;
      if (msg === 'end') return finish({ hex: hash.digest('hex'), size });
      if (msg === 'abort') return finish(null);
      try {
        if ('path' in msg) fromFile(msg);
        else hash.update(new Uint8Array(msg.buffer, msg.offset, msg.length));
      } catch (err) {
        return finish(null, err as Error);
      }
      size += msg.length;
      port.postMessage(msg.length);
    });
    port.on('close', () => finish(null));
  });
}

export async function hashFile({ path }: { path: string }): Promise<HashResult> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hex: hash.digest('hex'), size };
}
