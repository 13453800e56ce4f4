// The row memo must never answer what LMDB would not: rows kept from a write only once it (and
// every other open write) has committed, nothing from a failed write, removed rows never.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RowMemo } from '../src/index/row-memo.js';

/** A stand-in for LMDB's committed rows, counting the reads that reach it. */
function committedRows() {
  const rows = new Map<string, unknown>();
  let reads = 0;
  return {
    rows,
    load: (key: string) => () => {
      reads++;
      return rows.get(key);
    },
    reads: () => reads,
  };
}

test('a row written to a kept table is served from the write once it commits, frozen; other tables are read again', () => {
  const memo = new RowMemo(['meta', 'versions'], ['meta']);
  const db = committedRows();
  const done = memo.writing();
  memo.written('meta', 'seq', 7);
  memo.written('meta', 'audit-head', { seq: 7, hash: 'h7' });
  memo.written('versions', ['m', 1], { version: 1 });
  db.rows.set('seq', 7).set('audit-head', { seq: 7, hash: 'h7' }).set('v1', { version: 1 });
  // Open: read from LMDB and not memoized.
  assert.equal(memo.read('meta', 'seq', db.load('seq')), 7);
  assert.equal(db.reads(), 1);
  done(true);
  assert.equal(memo.read('meta', 'seq', db.load('seq')), 7);
  const head = memo.read('meta', 'audit-head', db.load('audit-head')) as { seq: number };
  assert.deepEqual(head, { seq: 7, hash: 'h7' });
  assert.ok(Object.isFrozen(head));
  assert.equal(db.reads(), 1, 'the kept rows came from the write');
  assert.deepEqual(memo.read('versions', ['m', 1], db.load('v1')), { version: 1 });
  assert.equal(db.reads(), 2, 'a version is read back from LMDB');
});

test('a failed write keeps nothing, and neither does a write that committed while another failed', () => {
  const memo = new RowMemo(['meta'], ['meta']);
  const db = committedRows();
  db.rows.set('seq', 3);
  const failed = memo.writing();
  memo.written('meta', 'seq', 4);
  failed(false);
  assert.equal(memo.read('meta', 'seq', db.load('seq')), 3);
  assert.equal(db.reads(), 1);

  const memo2 = new RowMemo(['meta'], ['meta']);
  const a = memo2.writing();
  const b = memo2.writing();
  memo2.written('meta', 'seq', 5);
  memo2.written('meta', 'audit-head', { seq: 5 });
  a(true);
  b(false);
  db.rows.set('seq', 5);
  assert.equal(memo2.read('meta', 'seq', db.load('seq')), 5);
  assert.equal(db.reads(), 2, 'read from LMDB: the memo kept nothing of either write');
});

test('with two writes open, the rows are kept only when the last commits, the later write of a row winning', () => {
  const memo = new RowMemo(['aliases'], ['aliases']);
  const db = committedRows();
  const first = memo.writing();
  memo.written('aliases', ['m', 'prod'], { version: 1 });
  const second = memo.writing();
  memo.written('aliases', ['m', 'prod'], { version: 2 });
  first(true);
  db.rows.set('prod', { version: 1 });
  assert.deepEqual(memo.read('aliases', ['m', 'prod'], db.load('prod')), { version: 1 }, 'the second write is not committed yet');
  assert.equal(db.reads(), 1);
  second(true);
  db.rows.set('prod', { version: 2 });
  assert.deepEqual(memo.read('aliases', ['m', 'prod'], db.load('prod')), { version: 2 });
  assert.equal(db.reads(), 1);
});

test('a removed row is forgotten, not kept', () => {
  const memo = new RowMemo(['aliases'], ['aliases']);
  const db = committedRows();
  db.rows.set('prod', { version: 1 });
  assert.deepEqual(memo.read('aliases', ['m', 'prod'], db.load('prod')), { version: 1 });
  const done = memo.writing();
  memo.written('aliases', ['m', 'prod'], { version: 2 });
  memo.written('aliases', ['m', 'prod'], undefined);
  done(true);
  db.rows.delete('prod');
  assert.equal(memo.read('aliases', ['m', 'prod'], db.load('prod')), undefined);
  assert.equal(db.reads(), 2);
});

test('tables replaced in a write drop every row and keep none of that write', () => {
  const memo = new RowMemo(['meta'], ['meta']);
  const db = committedRows();
  const done = memo.writing();
  memo.written('meta', 'seq', 9);
  memo.replaced();
  done(true);
  db.rows.set('seq', 2);
  assert.equal(memo.read('meta', 'seq', db.load('seq')), 2);
});
