// Worker thread of PrefixHasher: sha256 of each file being downloaded, read back from the page
// cache as its contiguous prefix grows, so hashing runs on its own core beside the downloads and
// no file is read again after its last byte arrived. Messages: see prefix-hasher.ts.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { HasherReply, HasherRequest } from './prefix-hasher.js';

interface Tracked {
  fd: number;
  size: number;
  hash: Hash;
  hashed: number;
  /** Bytes known to be written, from 0. */
  upTo: number;
}

const READ_SIZE = 4 * 1024 * 1024;
const buffer = Buffer.allocUnsafe(READ_SIZE);
const files = new Map<number, Tracked>();
let pumping = false;
const port = parentPort!;

port.on('message', (message: HasherRequest) => {
  try {
    if (message.op === 'open') {
      files.set(message.id, { fd: openSync(message.path, 'r'), size: message.size, hash: createHash('sha256'), hashed: 0, upTo: 0 });
    } else if (message.op === 'grow') {
      const file = files.get(message.id);
      if (file) file.upTo = Math.max(file.upTo, Math.min(message.upTo, file.size));
    } else {
      forget(message.id);
      return;
    }
  } catch (err) {
    reply({ id: message.id, error: (err as Error).message });
    forget(message.id);
    return;
  }
  if (!pumping) {
    pumping = true;
    setImmediate(pump);
  }
});

/** Hashes one read of the first file with bytes waiting, then yields so new messages get in. */
function pump(): void {
  for (const [id, file] of files) {
    if (file.hashed < file.upTo) {
      try {
        const n = readSync(file.fd, buffer, 0, Math.min(READ_SIZE, file.upTo - file.hashed), file.hashed);
        if (n === 0) throw new Error(`the partial file ended at ${file.hashed} of ${file.size} bytes`);
        file.hash.update(buffer.subarray(0, n));
        file.hashed += n;
      } catch (err) {
        reply({ id, error: (err as Error).message });
        forget(id);
      }
      setImmediate(pump);
      return;
    }
    if (file.hashed === file.size) {
      reply({ id, hex: file.hash.digest('hex') });
      forget(id);
      setImmediate(pump);
      return;
    }
  }
  pumping = false;
}

function forget(id: number): void {
  const file = files.get(id);
  if (!file) return;
  files.delete(id);
  closeSync(file.fd);
}

function reply(message: HasherReply): void {
  port.postMessage(message);
}
