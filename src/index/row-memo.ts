// Decoded LMDB rows kept between reads, which must never answer what LMDB itself would not.
//
// A row is dropped when a write transaction writes it. That alone is not enough: lmdb-js commits
// an asynchronous transaction after its callback has returned, and a read in between sees the
// last committed row, not the one just written; memoized then, the old row would outlive the
// commit. So nothing is memoized while any write transaction of this environment is open (from
// the call until its commit is visible to reads); rows written meanwhile are read from LMDB.
//
// The rows of some tables are memoized from the write itself once it is committed: every change
// writes the sequence, the audit head and (a rollback) an alias pointer, and every node reads them
// again at once (the next notice, the next commit, the resolve that follows the watch message).
// Read back, each is an LMDB read in a renewed read transaction and a decode; the written value
// is the row LMDB now holds. They are memoized only when the last open write has committed, so no
// other write can still change them unseen; a failed write memoizes nothing.
// Rows are frozen, deeply, because every reader shares them.
import type { Key, Table } from '../domain/writes.js';

/** Enough for every version an alias points at on a busy registry; the oldest entry goes first. */
const MAX_ROWS = 4096;

export class RowMemo {
  private readonly rows = new Map<string, unknown>();
  private readonly tables: ReadonlySet<Table>;
  private readonly keptFromWrites: ReadonlySet<Table>;
  /** Rows of `keptFromWrites` tables written by the open write transactions, in the order written. */
  private readonly pending = new Map<string, unknown>();
  private openWrites = 0;
  private failedWrites = false;

  /** `keptFromWrites`: tables (among `tables`) whose written rows are memoized once committed. */
  constructor(tables: readonly Table[], keptFromWrites: readonly Table[] = []) {
    this.tables = new Set(tables);
    this.keptFromWrites = new Set(keptFromWrites.filter((t) => this.tables.has(t)));
  }

  /** The row at `key` of `table`: the memoized one, or `load()`'s (memoized when no write is open). */
  read(table: Table, key: Key, load: () => unknown): unknown {
    if (!this.tables.has(table)) return load();
    const id = rowId(table, key);
    const memoized = this.rows.get(id);
    if (memoized !== undefined) return memoized;
    const row = load();
    if (row === undefined || this.openWrites > 0) return row;
    this.keep(id, row);
    return row;
  }

  /**
   * Marks a write transaction open; call the returned function once its commit is visible to reads
   * (`committed` true) or it failed (false).
   */
  writing(): (committed: boolean) => void {
    this.openWrites++;
    let done = false;
    return (committed) => {
      if (done) return;
      done = true;
      this.openWrites--;
      if (!committed) this.failedWrites = true;
      if (this.openWrites > 0) return;
      if (!this.failedWrites) for (const [id, row] of this.pending) this.keep(id, row);
      this.pending.clear();
      this.failedWrites = false;
    };
  }

  /** A row written (`value`, or undefined when removed) in the open write transaction. */
  written(table: Table, key: Key, value: unknown): void {
    if (this.openWrites === 0) throw new Error('a table was written outside a write transaction of its LmdbState');
    if (!this.tables.has(table)) return;
    const id = rowId(table, key);
    this.rows.delete(id);
    if (!this.keptFromWrites.has(table)) return;
    // Re-inserted, so the map's order stays the order of the writes.
    this.pending.delete(id);
    if (value !== undefined) this.pending.set(id, value);
  }

  /** Every table replaced in the open write transaction. */
  replaced(): void {
    if (this.openWrites === 0) throw new Error('tables were replaced outside a write transaction of their LmdbState');
    this.rows.clear();
    this.pending.clear();
  }

  private keep(id: string, row: unknown): void {
    this.rows.delete(id);
    if (this.rows.size >= MAX_ROWS) this.rows.delete(this.rows.keys().next().value as string);
    this.rows.set(id, deepFreeze(row));
  }
}

function rowId(table: Table, key: Key): string {
  return typeof key === 'string' ? `${table}\u0000s${key}` : `${table}\u0000${JSON.stringify(key)}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
