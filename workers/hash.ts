// Piscina worker: sha256 with node:crypto, off the event loop that serves resolves.
// node:crypto hash objects cannot move between threads and piscina has no task affinity, so an
// upload's hash lives in one long-running task fed through a MessagePort; a worker runs many such
// tasks at once (concurrentTasksPerWorker). bench/RESULTS.md has the measurement behind the choice.
import { createHash } from 'node:crypto';
import { createReadStream, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { MessagePort } from 'node:worker_threads';

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
 * Messages on the port: a HashChunk to hash, answered (in order) with its length once hashed so
 * the sender can reuse the buffer; 'end' to finish; 'abort' to give up.
 */
export function hashStream({ port }: { port: MessagePort }): Promise<HashResult | null> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let size = 0;
    let settled = false;
    const finish = (result: HashResult | null) => {
      if (settled) return;
      settled = true;
      port.close();
      resolve(result);
    };
    port.on('message', (msg: HashChunk | 'end' | 'abort') => {
      if (msg === 'end') return finish({ hex: hash.digest('hex'), size });
      if (msg === 'abort') return finish(null);
      hash.update(new Uint8Array(msg.buffer, msg.offset, msg.length));
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
