// A replica opened with `flush: false` (a RedisControlStore's) is written without fsync: each
// commit must be readable at once in its own process, and survive the process being killed, since
// the page cache holds what it wrote (the node then keeps its replica; only another boot makes it
// copy the state again, see control-store-conformance).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AliasPointer } from '../src/domain/types.js';
import type { Write } from '../src/domain/writes.js';
import { LmdbState } from '../src/index/lmdb-state.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-replica-'));
  dirs.push(dir);
  return dir;
}

/** What a rollback to `version` at `seq` writes to the tables its resolve and watch message read. */
function rollback(seq: number, version: number): Write[] {
  const pointer: AliasPointer = { name: 'm', alias: 'production', version, seq, updatedAt: `t${seq}`, updatedBy: 'a' };
  return [
    { table: 'aliases', key: ['m', 'production'], value: pointer },
    { table: 'aliasEvents', key: ['m', 'production', seq], value: { seq, to: version } },
    { table: 'meta', key: 'seq', value: seq },
    { table: 'meta', key: 'audit-head', value: { seq, hash: `h${seq}` } },
    { table: 'audit', key: seq, value: { seq, action: 'alias.rollback', target: 'm@production' } },
  ];
}

test('an unflushed replica serves each commit right after it, never the pointer it replaced', () => {
  const state = new LmdbState(tempDir(), { flush: false });
  try {
    for (let seq = 1; seq <= 200; seq++) {
      const version = (seq % 2) + 1;
      state.transactionSync(() => state.apply(rollback(seq, version)));
      assert.equal(state.currentSeq(), seq);
      assert.equal(state.getAlias('m', 'production')?.version, version, `the pointer after commit ${seq}`);
      assert.deepEqual(state.auditHead(), { seq, hash: `h${seq}` });
      assert.equal(state.auditEntries(seq, 1)[0]?.seq, seq);
    }
    assert.equal(state.aliasHistory('m', 'production').length, 200);
  } finally {
    void state.close();
  }
});

test('commits of an unflushed replica survive its process being killed (SIGKILL, no close)', () => {
  const dir = tempDir();
  const lmdbState = fileURLToPath(new URL('../src/index/lmdb-state.js', import.meta.url));
  // The child commits 300 rollbacks and kills itself before anything could close or flush the map.
  const child = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { LmdbState } = await import(${JSON.stringify(lmdbState)});
       const state = new LmdbState(${JSON.stringify(dir)}, { flush: false });
       const rollback = ${rollback.toString()};
       for (let seq = 1; seq <= 300; seq++) state.transactionSync(() => state.apply(rollback(seq, (seq % 2) + 1)));
       process.kill(process.pid, 'SIGKILL');`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  const state = new LmdbState(dir, { flush: false });
  try {
    assert.equal(state.currentSeq(), 300, 'every commit of the killed process is there');
    assert.equal(state.getAlias('m', 'production')?.version, 1);
    assert.deepEqual(state.auditHead(), { seq: 300, hash: 'h300' });
    assert.equal(state.aliasHistory('m', 'production').length, 300);
    state.transactionSync(() => state.apply(rollback(301, 2)));
    assert.equal(state.getAlias('m', 'production')?.version, 2, 'and it takes the next commit');
  } finally {
    void state.close();
  }
});
