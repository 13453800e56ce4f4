// How much a download reads per step (src/http/read-size.ts) and the buffers it reads into
// (src/http/buffer-pool.ts): fast clients get large reads, slow ones and crowds keep small buffers;
// where in a buffer a read lands (src/lib/read-placement.ts).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ReadSize } from '../src/http/read-size.js';
import { BufferPool } from '../src/http/buffer-pool.js';
import { readPlacement, READ_SLACK } from '../src/lib/read-placement.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const MIN = 256 * KIB;
const MAX = 2 * MIB;

/** Hands `chunks` chunks of the current size to a client taking `bytesPerMs`, from `sent` at `at` ms. */
function paced(size: ReadSize, chunks: number, bytesPerMs: number, from: { sent: number; at: number }): { sent: number; at: number } {
  let { sent, at } = from;
  for (let i = 0; i < chunks; i++) {
    sent += size.size;
    at += size.size / bytesPerMs;
    size.handed(sent, true, at);
  }
  return { sent, at };
}

describe('read size', () => {
  test('jumps to the maximum while the socket takes every chunk at once', () => {
    const size = new ReadSize(MIN, MAX);
    assert.equal(size.size, MIN);
    size.handed(MIN, false, 1);
    assert.equal(size.size, MAX);
    size.handed(MIN + MAX, false, 2);
    assert.equal(size.size, MAX);
  });

  test('a slow client (2 MB/s) falls back to the minimum once its pace is measured', () => {
    const size = new ReadSize(MIN, MAX);
    // The kernel's buffers take the first megabytes at once: the size grows meanwhile.
    let sent = 0;
    for (let i = 0; i < 4; i++) {
      sent += size.size;
      size.handed(sent, false, i);
    }
    assert.equal(size.size, MAX);
    // Then the socket is full (the first wait starts the measurement) and the client sets the
    // pace, 2000 bytes per ms, for eight more chunks.
    const state = paced(size, 9, 2000, { sent, at: 4 });
    assert.equal(size.size, MIN);
    // It stays there.
    paced(size, 20, 2000, state);
    assert.equal(size.size, MIN);
  });

  test('a client that reads in bursts is judged over several chunks, not between two', () => {
    const size = new ReadSize(MIN, MAX);
    size.handed(MIN, true, 0);
    // Seven chunks taken within a millisecond each (a burst), then the eighth after a second.
    let sent = MIN;
    for (let i = 1; i <= 7; i++) {
      sent += MIN;
      size.handed(sent, true, i * 0.5);
      assert.equal(size.size, MIN, 'no change before the window is full');
    }
    sent += MIN;
    size.handed(sent, true, 1000);
    assert.equal(size.size, MIN, '2 MiB per second is a slow client');
  });

  test('a fast client that fills the socket still grows, one step per chunk', () => {
    const size = new ReadSize(MIN, MAX);
    size.handed(MIN, true, 0);
    // 100 MB/s: 100 ms of it is far above the maximum.
    paced(size, 7, 100_000, { sent: MIN, at: 0 });
    assert.equal(size.size, MIN);
    paced(size, 3, 100_000, { sent: 8 * MIN, at: 20 });
    assert.equal(size.size, MAX);
  });
});

describe('download buffer pool', () => {
  const SLACK = 4096;

  test('buffers above the minimum, in use or idle, stay within the growth budget', () => {
    const pool = new BufferPool(MIN, MAX, SLACK, { keepBytes: 64 * MIB, growthBudget: 4 * MIB, crowd: 64 });
    pool.active = 2;
    const a = pool.take(MAX);
    const b = pool.take(MAX);
    assert.deepEqual([a.length, b.length], [MAX + SLACK, MAX + SLACK], 'each buffer holds its size and the slack');
    assert.deepEqual([pool.sizeOf(a), pool.sizeOf(b)], [MAX, MAX]);
    assert.equal(pool.sizeOf(pool.take(MAX)), MIN, 'the budget is spent: the minimum');
    pool.give(a);
    assert.equal(pool.take(MAX), a, 'an idle large buffer is reused, not allocated again');
    assert.equal(pool.sizeOf(pool.take(2 * MIN)), MIN, 'no idle buffer to let go: the minimum');
    pool.give(b);
    assert.equal(pool.sizeOf(pool.take(2 * MIN)), 2 * MIN, 'an idle buffer of another size makes room');
    pool.give(a);
    assert.equal(pool.take(MAX), a);
  });

  test('past `crowd` downloads in flight every buffer is the minimum', () => {
    const pool = new BufferPool(MIN, MAX, SLACK, { keepBytes: 64 * MIB, growthBudget: 64 * MIB, crowd: 3 });
    pool.active = 3;
    assert.equal(pool.sizeOf(pool.take(MAX)), MAX);
    pool.active = 4;
    assert.equal(pool.sizeOf(pool.take(MAX)), MIN);
    assert.equal(pool.sizeOf(pool.take(4 * MIN)), MIN);
  });

  test('idle buffers are reused by size, and only up to keepBytes of minimum ones are kept', () => {
    const pool = new BufferPool(MIN, MAX, SLACK, { keepBytes: MIN, growthBudget: 64 * MIB, crowd: 64 });
    const big = pool.take(MAX);
    const small = pool.take();
    const other = pool.take();
    pool.give(big);
    pool.give(small);
    pool.give(other); // beyond keepBytes: dropped
    assert.equal(pool.take(MAX), big);
    assert.equal(pool.take(), small);
    assert.notEqual(pool.take(), other);
  });
});

describe('read placement', () => {
  test('a read lands about half a page from its source within a page (for a buffer 16 bytes into one), inside the slack', () => {
    for (const position of [0, 1, 15, 16, 2047, 2048, 4095, 4096, 12_345, 2 ** 31 + 7, 2 ** 40]) {
      const place = readPlacement(position);
      assert.ok(place >= 0 && place + 64 <= READ_SLACK, `placement ${place} for ${position} is outside the slack`);
      assert.equal(place % 64, 0);
      const distance = (((place + 16 - position) % 4096) + 4096) % 4096;
      assert.ok(distance > 1984 && distance <= 2048, `distance ${distance} for position ${position}`);
    }
  });
});
