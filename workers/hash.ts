// Piscina worker: sha256 with node:crypto, off the event loop that serves resolves.
// node:crypto hash objects cannot move between threads and piscina has no task affinity, so an
// upload's hash lives in one long-running task fed through a MessagePort; a worker runs many such
// tasks at once (concurrentTasksPerWorker). bench/RESULTS.md has the measurement behind the choice.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';

export interface HashResult {
  hex: string;
  size: number;
}

/**
 * Messages on the port: an ArrayBuffer (transferred) to hash, answered with its byte length as
 * the acknowledgement the sender uses for backpressure; 'end' to finish; 'abort' to give up.
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
    port.on('message', (msg: ArrayBuffer | 'end' | 'abort') => {
      if (msg === 'end') return finish({ hex: hash.digest('hex'), size });
      if (msg === 'abort') return finish(null);
      const view = new Uint8Array(msg);
      hash.update(view);
      size += view.byteLength;
      port.postMessage(view.byteLength);
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
