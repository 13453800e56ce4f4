// Worker thread of PrefixHasher: sha256 of each file being downloaded, in order, from two kinds of
// work taken strictly in the order they were sent: bytes in a connection's receive ring (hashed
// in place, then the ring's counter says they are free) and file ranges already written (read
// back from the page cache). Messages: see prefix-hasher.ts.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { HasherReply, HasherRequest } from './prefix-hasher.js';
import type { RingSegment } from './receive-ring.js';

interface Tracked {
  fd: number;
  size: number;
  hash: Hash;
  hashed: number;
}

type Task = { kind: 'grow'; id: number; upTo: number } | ({ kind: 'ring' } & RingSegment);

const READ_SIZE = 4 * 1024 * 1024;
/** Ring bytes hashed per turn before messages get a chance to come in. */
const TURN_BYTES = 8 * 1024 * 1024;
const buffer = Buffer.allocUnsafe(READ_SIZE);
const files = new Map<number, Tracked>();
const rings = new Map<number, { memory: SharedArrayBuffer; done: Int32Array }>();
const tasks: Task[] = [];
let pumping = false;
const port = parentPort!;

port.on('message', (message: HasherRequest) => {
  if (message.op === 'attach') {
    rings.set(message.ring, { memory: message.memory, done: message.done });
    return;
  }
  if (message.op === 'open') {
    try {
      files.set(message.id, { fd: openSync(message.path, 'r'), size: message.size, hash: createHash('sha256'), hashed: 0 });
    } catch (err) {
      reply({ id: message.id, error: (err as Error).message });
      return;
    }
    finishIfComplete(message.id);
    return;
  }
  if (message.op === 'drop') {
    forget(message.id);
    return;
  }
  if (message.op === 'grow') tasks.push({ kind: 'grow', id: message.id, upTo: message.upTo });
  else
    tasks.push({
      kind: 'ring',
      ring: message.ring,
      fileId: message.fileId,
      offset: message.offset,
      length: message.length,
      seq: message.seq,
    });
  if (!pumping) {
    pumping = true;
    setImmediate(pump);
  }
});

/** Works through the queue in order, yielding between turns so new messages get in. */
function pump(): void {
  let budget = TURN_BYTES;
  while (tasks.length > 0 && budget > 0) {
    const task = tasks[0]!;
    if (task.kind === 'ring') {
      tasks.shift();
      hashRing(task);
      budget -= task.length;
    } else if (readBack(task)) {
      tasks.shift();
    } else {
      budget -= READ_SIZE;
    }
  }
  if (tasks.length > 0) setImmediate(pump);
  else pumping = false;
}

function hashRing(task: RingSegment): void {
  const ring = rings.get(task.ring)!;
  const file = files.get(task.fileId);
  if (file) {
    file.hash.update(new Uint8Array(ring.memory, task.offset, task.length));
    file.hashed += task.length;
  }
  // The bytes are free for the next reads, whether they were hashed or their file was dropped.
  Atomics.store(ring.done, 0, task.seq);
  Atomics.notify(ring.done, 0);
  if (file) finishIfComplete(task.fileId);
}

/** One read of a file range towards `upTo`; true when the task is done. */
function readBack(task: { id: number; upTo: number }): boolean {
  const file = files.get(task.id);
  if (!file) return true;
  const upTo = Math.min(task.upTo, file.size);
  if (file.hashed < upTo) {
    try {
      const n = readSync(file.fd, buffer, 0, Math.min(READ_SIZE, upTo - file.hashed), file.hashed);
      if (n === 0) throw new Error(`the partial file ended at ${file.hashed} of ${file.size} bytes`);
      file.hash.update(buffer.subarray(0, n));
      file.hashed += n;
    } catch (err) {
      reply({ id: task.id, error: (err as Error).message });
      forget(task.id);
      return true;
    }
  }
  if (file.hashed < upTo) return false;
  finishIfComplete(task.id);
  return true;
}

function finishIfComplete(id: number): void {
  const file = files.get(id);
  if (!file || file.hashed !== file.size) return;
  reply({ id, hex: file.hash.digest('hex') });
  forget(id);
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

// From now on bytes may wait in the rings for this thread (see PrefixHasher.running).
reply({ ready: true });
