// Decoded LMDB rows kept between reads, which must never answer what LMDB itself would not.
//
// A row is dropped when a write transaction writes it. That alone is not enough: lmdb-js commits
// an asynchronous transaction after its callback has returned, and a read in between sees the
// last committed row, not the one just written; memoized then, the old row would outlive the
// commit. So nothing is memoized while any write transaction of this environment is open (from
// the call until its commit is visible to reads); rows written meanwhile are read from LMDB.
// Rows are frozen, deeply, because every reader shares them.
import type { Key, Table } from '../domain/writes.js';

/** Enough for every version an alias points at on a busy registry; the oldest entry goes first. */
const MAX_ROWS = 4096;

export class RowMemo {
  private readonly rows = new Map<string, unknown>();
  private readonly tables: ReadonlySet<Table>;
  private openWrites = 0;

  constructor(tables: readonly Table[]) {
    this.tables = new Set(tables);
  }

  /** The row at `key` of `table`: the memoized one, or `load()`'s (memoized when no write is open). */
  read(table: Table, key: Key, load: () => unknown): unknown {
    if (!this.tables.has(table)) return load();
    const id = rowId(table, key);
    const memoized = this.rows.get(id);
    if (memoized !== undefined) return memoized;
    const row = load();
    if (row === undefined || this.openWrites > 0) return row;
    if (this.rows.size >= MAX_ROWS) this.rows.delete(this.rows.keys().next().value as string);
    this.rows.set(id, deepFreeze(row));
    return row;
  }

  /** Marks a write transaction open; call the returned function once its commit is visible to reads (or it failed). */
  writing(): () => void {
    this.openWrites++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.openWrites--;
    };
  }

  /** A row written (or removed) in the open write transaction. */
  written(table: Table, key: Key): void {
    if (this.openWrites === 0) throw new Error('a table was written outside a write transaction of its LmdbState');
    if (this.tables.has(table)) this.rows.delete(rowId(table, key));
  }

  /** Every table replaced in the open write transaction. */
  replaced(): void {
    if (this.openWrites === 0) throw new Error('tables were replaced outside a write transaction of their LmdbState');
    this.rows.clear();
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
