// A node's replica of Redis is written without fsync: Redis (AOF, fsync always) holds every
// acknowledged change, so the replica needs no durability of its own, and an fsync per applied
// change is what stretched propagation (each of N nodes flushing the same change to a shared disk,
// see bench/results/20261206-propagation-trace.md). Without fsync LMDB survives a process crash
// (the page cache keeps every commit) but not an OS crash, which can leave it torn. So the replica
// records the boot it was written in (`index.unflushed`, removed after a clean close has flushed
// it); a node that finds the mark of another boot moves the replica aside and copies the state
// from Redis again, instead of serving from a file it cannot trust.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../../log.js';

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

/** This boot's id, or null where the OS does not say (then the replica is flushed as before). */
function bootId(): string | null {
  try {
    return readFileSync(BOOT_ID, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Called before the replica under `dataDir/index` is opened. Returns true when it may be written
 * without fsync (the mark of this boot is on disk first); moves aside a replica left unflushed by
 * an earlier boot. `boot` is for tests; by default this machine's boot id.
 */
export function prepareUnflushedReplica(dataDir: string, boot: string | null = bootId()): boolean {
  if (boot === null) return false;
  mkdirSync(dataDir, { recursive: true });
  const index = join(dataDir, 'index');
  const mark = join(dataDir, 'index.unflushed');
  if (existsSync(mark)) {
    const written = readFileSync(mark, 'utf8').trim();
    if (written !== boot && existsSync(index)) {
      const aside = join(dataDir, `index.unflushed-${written.slice(0, 8)}-${Date.now()}`);
      renameSync(index, aside);
      logger.warn(
        { movedTo: aside },
        'the replica was written without fsync before the machine restarted, so it may be torn: moved aside, copying the state from Redis again',
      );
    }
  }
  writeFileSync(mark, `${boot}\n`);
  fsyncPath(mark);
  fsyncPath(dataDir);
  return true;
}

/** After the replica closed cleanly: flush its file, then drop the mark, so a restart keeps it. */
export function markReplicaFlushed(dataDir: string): void {
  const file = join(dataDir, 'index', 'data.mdb');
  if (existsSync(file)) fsyncPath(file);
  rmSync(join(dataDir, 'index.unflushed'), { force: true });
}
