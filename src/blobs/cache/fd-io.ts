// Positional reads and writes on raw file descriptors, looped until every byte is through.
// Cache readers share one descriptor per blob; the callback API on a raw fd skips the FileHandle
// promise machinery on the download path (as the disk store's reader does); uploads written straight
// from the socket use the synchronous write.
import { close, fsync, open, read, write, writeSync } from 'node:fs';

export function openFd(path: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, 0o644, (err, fd) => (err ? reject(err) : resolve(fd))));
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));
}

export function syncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

function readOnce(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

function writeOnce(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => write(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** Reads exactly `length` bytes; the file is known to hold them, so a short file is an error. */
export async function readFully(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const n = await readOnce(fd, buffer, offset + done, length - done, position + done);
    if (n === 0) throw new Error(`cache file ended at byte ${position + done}; ${position + length} were expected`);
    done += n;
  }
}

/**
 * Writes all of `bytes` now, on the calling thread: at `position`, or at the file's current offset
 * (advancing it, as an appending write does) when `position` is null.
 */
export function writeFullySync(fd: number, bytes: Uint8Array, position: number | null): void {
  for (let done = 0; done < bytes.length; )
    done += writeSync(fd, bytes, done, bytes.length - done, position === null ? null : position + done);
}

export async function writeFully(fd: number, buffer: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) done += await writeOnce(fd, buffer, done, length - done, position + done);
}
