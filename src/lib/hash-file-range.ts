// Hashing part of a file with blocking reads, for a thread that does nothing else meanwhile (the
// server's hashing thread reading back what an upload wrote, the push's hashing thread): each read
// lands where the kernel's copy out of the page cache is fast (readPlacement), in one buffer small
// enough to stay in the core's own cache, and is hashed by the thread that read it.
import type { Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import { readPlacement, READ_SLACK } from './read-placement.js';

/**
 * Feeds bytes `from` to `from + length` of `fd` into `hash`, reading into `buffer` (whose last
 * READ_SLACK bytes are room for the placement). Returns how many there were: fewer than `length`
 * only where the file ends first.
 */
export function hashFileRange(hash: Hash, fd: number, buffer: Buffer, from: number, length: number): number {
  const readSize = buffer.length - READ_SLACK;
  const end = from + length;
  let at = from;
  while (at < end) {
    const place = readPlacement(at);
    const n = readSync(fd, buffer, place, Math.min(readSize, end - at), at);
    if (n === 0) break;
    hash.update(buffer.subarray(place, place + n));
    at += n;
  }
  return at - from;
}
