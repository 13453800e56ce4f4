// The RangeSource conformance suite (test/conformance/range-source.ts) run against both sources
// downloads use: pread into pooled buffers, and the mapping of the blob's file (the native addon,
// when `npm run build` built it). Then the fallback: with the addon absent the service serves with
// pread, and says so in its start log.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { BufferPool } from '../src/http/buffer-pool.js';
import { chooseDownloadSource } from '../src/http/download.js';
import { MAPPED_RANGE_ADDON, mappedSources } from '../src/http/mapped-source.js';
import { preadSources } from '../src/http/pread-source.js';
import { READ_SLACK } from '../src/lib/read-placement.js';
import { rangeSourceConformance } from './conformance/range-source.js';
import { pathRequest, uploadBlob } from './harness/http.js';
import { startServer } from './harness/server.js';

const MiB = 1024 * 1024;
const pool = new BufferPool(256 * 1024, 2 * MiB, READ_SLACK, { keepBytes: 16 * MiB, growthBudget: 16 * MiB, crowd: 64 });

rangeSourceConformance({ name: 'pread', kind: () => preadSources(pool) });

// The addon is built wherever a C compiler and Node's headers are (this repository's machines and
// its Docker build stage); elsewhere its suite is skipped by name, not silently passed.
const mapped = mappedSources(2 * MiB, (size) => size);
test('the native addon is built and loads (npm run build)', () => {
  assert.equal(typeof mapped, 'object', `mappedSources: ${String(mapped)}`);
});
if (typeof mapped === 'object') rangeSourceConformance({ name: 'mmap', kind: () => mapped });
// Windows of 1 MiB from 1 MiB blobs up: the suite's 5 MiB blob spans six, its chunks of 2 MiB end
// at their windows' ends, and a source's two slots lie in different windows.
const windowed = mappedSources(2 * MiB, (size) => size, undefined, {
  size: 1 * MiB,
  from: 1 * MiB,
  lingerMs: 50,
  chunk: 1 * MiB,
  coldChunk: 256 * 1024,
});
if (typeof windowed === 'object') rangeSourceConformance({ name: 'mmap windows', kind: () => windowed });

describe('without the native addon', () => {
  test('mappedSources says why, and downloads choose pread', () => {
    const missing = `${MAPPED_RANGE_ADDON}.absent`;
    assert.ok(!existsSync(missing));
    const kind = mappedSources(2 * MiB, (size) => size, missing);
    assert.equal(typeof kind, 'string');
    assert.match(kind as string, /native addon not loaded/);
    const chosen = chooseDownloadSource('auto', missing);
    assert.equal(chosen.source, 'pread');
    assert.match(chosen.reason ?? '', /native addon not loaded/);
    if (typeof mapped === 'object') assert.match(chooseDownloadSource('auto').source, /^mmap/);
  });

  test('a service on pread serves whole files and ranges byte for byte, and logs which source it uses', async () => {
    const server = await startServer({ env: { MODELGATE_DOWNLOAD_SOURCE: 'pread' } });
    try {
      assert.ok(
        server.output.some((line) => line.includes('downloads read blobs with pread')),
        'the start log names pread',
      );
      const bytes = randomBytes(5 * MiB + 4321);
      const digest = await uploadBlob(server, bytes);
      const headers = { Authorization: `Bearer ${server.token}` };
      const whole = await pathRequest(server.port, 'GET', `/v1/blobs/${digest}`, headers);
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(bytes));
      const part = await pathRequest(server.port, 'GET', `/v1/blobs/${digest}`, { ...headers, Range: 'bytes=4097-3150000' });
      assert.equal(part.status, 206);
      assert.ok(part.body.equals(bytes.subarray(4097, 3150001)));
    } finally {
      await server.dispose();
    }
  });
});
