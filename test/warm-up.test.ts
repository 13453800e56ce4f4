// The start-up rehearsal of the change path (control.warmUpChanges): it really plans, ships,
// applies and reads back the moves on scratch tables, and leaves nothing behind.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLmdbScratch } from '../src/index/lmdb-scratch.js';
import { rehearseChanges } from '../src/registry/warm-up.js';

test('the rehearsal commits every move on its scratch tables and removes them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warm-up-test-'));
  try {
    const { seq, ms } = rehearseChanges(25, () => openLmdbScratch(dir));
    // The model, two versions, then one audited change per move.
    assert.equal(seq, 3 + 25);
    assert.ok(ms >= 0);
    assert.deepEqual(readdirSync(dir), [], 'the scratch environment is gone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rehearsal of no moves still leaves nothing behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warm-up-test-'));
  try {
    assert.equal(rehearseChanges(0, () => openLmdbScratch(dir)).seq, 3);
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
