// The record of which pieces of a partial download are on disk, kept in a small JSON file beside
// the data. Written atomically (temporary file, then rename), so a kill at any moment leaves
// either the previous record or the new one, never a torn one.
import { readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';

export interface PartialState {
  digest: string;
  size: number;
  pieceSize: number;
  /** Indexes of pieces whose bytes are written and synced. */
  done: number[];
}

/**
 * The saved state, or null when there is none or it is unreadable (a fresh start is always safe).
 * Synchronous: a pull reads it among
 * the few file operations before its first byte, where each trip through the thread pool is a wait
 * for a thread to be scheduled on a busy machine.
 */
export function readPartialState(path: string): PartialState | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  return parsePartialState(text);
}

function parsePartialState(text: string): PartialState | null {
  try {
    const raw = JSON.parse(text) as Partial<PartialState>;
    const valid =
      typeof raw.digest === 'string' &&
      Number.isSafeInteger(raw.size) &&
      Number.isSafeInteger(raw.pieceSize) &&
      (raw.pieceSize as number) > 0 &&
      Array.isArray(raw.done) &&
      raw.done.every((i) => Number.isSafeInteger(i) && i >= 0);
    return valid ? (raw as PartialState) : null;
  } catch {
    return null;
  }
}

/** Keeps the state file in step with the set of finished pieces; concurrent updates are coalesced into few writes. */
export class PartialStateFile {
  private readonly done: Set<number>;
  private writing: Promise<void> | null = null;
  private dirty = false;

  constructor(
    readonly path: string,
    private readonly identity: { digest: string; size: number; pieceSize: number },
    done: Iterable<number>,
  ) {
    this.done = new Set(done);
  }

  has(index: number): boolean {
    return this.done.has(index);
  }

  /** Counts the piece as finished; the file says so after the next save(). */
  markDone(index: number): void {
    this.done.add(index);
  }

  save(): Promise<void> {
    this.dirty = true;
    this.writing ??= this.writeUntilClean();
    return this.writing;
  }

  async remove(): Promise<void> {
    await this.writing;
    await rm(this.path, { force: true });
  }

  private async writeUntilClean(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const state: PartialState = { ...this.identity, done: [...this.done].sort((a, b) => a - b) };
        const temporary = `${this.path}.tmp`;
        await writeFile(temporary, JSON.stringify(state));
        await rename(temporary, this.path);
      }
    } finally {
      // Cleared in the same turn as the last `dirty` check, so a markDone arriving now starts a new round.
      this.writing = null;
    }
  }
}
