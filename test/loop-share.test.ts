// The loop's share for request bodies (src/http/loop-share.ts): unbounded while no other request
// is answered, paused past the share while others are, resumed once the bucket has refilled.
// The charges carry their own times, so nothing here depends on how fast the machine is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoopShare } from '../src/http/loop-share.js';
import { waitFor } from './harness/http.js';

const limits = { share: 0.2, burstMs: 1, quietMs: 100 };

/** A body's pause hook that records what it was told. */
function body(share: LoopShare) {
  const told: boolean[] = [];
  const leave = share.join((paused) => told.push(paused));
  return { told, leave };
}

test('with no other request answered, bodies take the loop unbounded', () => {
  const share = new LoopShare(limits);
  const a = body(share);
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) share.charge(50, t0 + i);
  assert.deepEqual(a.told, []);
});

test('while other requests are answered, bodies past their share are all paused, and resumed once the bucket refilled', async () => {
  const share = new LoopShare(limits);
  const a = body(share);
  const b = body(share);
  const t0 = performance.now();
  share.otherRequests++;
  share.charge(0.6, t0);
  assert.deepEqual(a.told, [], 'within the burst');
  share.charge(0.6, t0);
  assert.deepEqual(a.told, [true]);
  assert.deepEqual(b.told, [true]);
  const late = body(share);
  assert.deepEqual(late.told, [true], 'a body that starts meanwhile starts paused');
  b.leave();
  await waitFor(() => a.told.length === 2);
  assert.deepEqual(a.told, [true, false]);
  assert.deepEqual(late.told, [true, false]);
  assert.deepEqual(b.told, [true], 'a body that left is not resumed');
  // What /metrics reports: one pause, and the time it lasted.
  assert.equal(share.pauses, 1);
  assert.ok(share.pausedMs > 0, String(share.pausedMs));
});

test('a body within its share is never paused', () => {
  const share = new LoopShare(limits);
  const a = body(share);
  const t0 = performance.now();
  for (let i = 0; i < 1000; i++) {
    share.otherRequests++;
    // 0.19 ms of every 1 ms: under the 20% share.
    share.charge(0.19, t0 + i);
  }
  assert.deepEqual(a.told, []);
});

test('once no other request came for quietMs, the bound lifts', () => {
  const share = new LoopShare(limits);
  const a = body(share);
  const t0 = performance.now();
  share.otherRequests++;
  share.charge(0.1, t0);
  share.charge(50, t0 + limits.quietMs + 1);
  assert.deepEqual(a.told, []);
  share.otherRequests++;
  share.charge(50, t0 + limits.quietMs + 2);
  assert.deepEqual(a.told, [true], 'and applies again with the next request');
});
