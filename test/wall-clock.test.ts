// lib/wall-clock.ts: the time of day at a performance.now() instant, as Date.now() would have said
// it, to the millisecond; and a step of the wall clock followed within a second.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { wallTimeAt } from '../src/lib/wall-clock.js';

test('agrees with Date.now() to the millisecond, over time', async () => {
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 1000; i++) {
      const before = Date.now();
      const at = wallTimeAt(performance.now());
      const after = Date.now();
      // Each side is floored to the millisecond on its own, so one may read 1 ms off the other.
      assert.ok(at >= before - 1 && at <= after + 1, `${at} vs ${before}..${after}`);
    }
    await sleep(60);
  }
});

test('a step of the wall clock is followed from the next check on, at most a second later', () => {
  const realNow = Date.now;
  const STEP = 3_600_000;
  try {
    Date.now = () => realNow() + STEP;
    // An instant a second past any earlier read makes this read compare with Date.now().
    const later = performance.now() + 1000;
    const stepped = wallTimeAt(later);
    const expected = realNow() + STEP + (later - performance.now());
    assert.ok(Math.abs(stepped - expected) <= 2, `${stepped} vs ${expected}`);
    const now = wallTimeAt(performance.now());
    assert.ok(Math.abs(now - Date.now()) <= 1, 'reads before the next check keep the new offset');
  } finally {
    Date.now = realNow;
  }
  const back = wallTimeAt(performance.now() + 2000);
  const expected = Date.now() + 2000;
  assert.ok(Math.abs(back - expected) <= 2, `stepped back: ${back} vs ${expected}`);
});
