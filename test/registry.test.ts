import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, registerFiles, sha256 } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { sortFiles, versionDigest } from '../src/domain/version-digest.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server.dispose();
});

describe('versions', () => {
  test('are numbered per model and carry the digest of the sorted file list', async () => {
    const v1 = await registerFiles(server, 'team/fraud', { 'b.bin': 'bee', 'a/config.json': '{"x":1}' });
    const v2 = await registerFiles(server, 'team/fraud', { 'b.bin': 'bee2' });
    const other = await registerFiles(server, 'churn', { 'b.bin': 'bee' });
    assert.equal(v1.version, 1);
    assert.equal(v2.version, 2);
    assert.equal(other.version, 1);
    assert.deepEqual(
      v1.files.map((f: { path: string }) => f.path),
      ['a/config.json', 'b.bin'],
    );
    const expected = versionDigest(
      sortFiles([
        { path: 'b.bin', size: 3, digest: sha256('bee') },
        { path: 'a/config.json', size: 7, digest: sha256('{"x":1}') },
      ]),
    );
    assert.equal(v1.digest, expected);
  });

  test('registering an identical file list returns the existing version', async () => {
    const first = await registerFiles(server, 'idem/model', { 'w.bin': 'weights', 'c.json': '{}' });
    const again = await api(server, 'POST', '/v1/models/idem/model/versions', {
      files: [...first.files].reverse(),
    });
    assert.equal(again.status, 200);
    assert.equal(again.json.version, first.version);
    assert.equal(again.json.digest, first.digest);
    const list = await api(server, 'GET', '/v1/models/idem/model/versions');
    assert.equal(list.json.versions.length, 1);
  });

  test('show, list with cursor pagination, and metadata updates', async () => {
    for (let i = 0; i < 5; i++) await registerFiles(server, 'paged', { 'f.txt': `content ${i}` });
    const page1 = await api(server, 'GET', '/v1/models/paged/versions?limit=2');
    assert.deepEqual(
      page1.json.versions.map((v: { version: number }) => v.version),
      [1, 2],
    );
    const page2 = await api(server, 'GET', `/v1/models/paged/versions?limit=2&cursor=${page1.json.nextCursor}`);
    assert.deepEqual(
      page2.json.versions.map((v: { version: number }) => v.version),
      [3, 4],
    );
    const page3 = await api(server, 'GET', `/v1/models/paged/versions?limit=2&cursor=${page2.json.nextCursor}`);
    assert.deepEqual(
      page3.json.versions.map((v: { version: number }) => v.version),
      [5],
    );
    assert.equal(page3.json.nextCursor, null);

    const patched = await api(server, 'PATCH', '/v1/models/paged/versions/3', { metadata: { framework: 'onnx' } });
    assert.equal(patched.status, 200);
    const shown = await api(server, 'GET', '/v1/models/paged/versions/3');
    assert.deepEqual(shown.json.metadata, { framework: 'onnx' });
    assert.equal((await api(server, 'GET', '/v1/models/paged/versions/99')).status, 404);
  });

  test('models are listed by prefix with a cursor', async () => {
    for (const n of ['zoo/a', 'zoo/b', 'zoo/c']) await registerFiles(server, n, { f: n });
    const first = await api(server, 'GET', '/v1/models?prefix=zoo/&limit=2');
    assert.deepEqual(
      first.json.models.map((m: { name: string }) => m.name),
      ['zoo/a', 'zoo/b'],
    );
    const rest = await api(server, 'GET', `/v1/models?prefix=zoo/&limit=2&cursor=${encodeURIComponent(first.json.nextCursor)}`);
    assert.deepEqual(
      rest.json.models.map((m: { name: string }) => m.name),
      ['zoo/c'],
    );
    const shown = await api(server, 'GET', '/v1/models/zoo/a');
    assert.equal(shown.json.latestVersion, 1);
    assert.equal((await api(server, 'GET', '/v1/models/zoo/nothing')).status, 404);
  });
});

describe('aliases', () => {
  before(async () => {
    for (let i = 1; i <= 3; i++) await registerFiles(server, 'risk/score', { 'model.bin': `v${i}` });
  });

  test('set, resolve, history, rollback walks back, delete', async () => {
    const base = '/v1/models/risk/score/aliases/stable';
    assert.equal((await api(server, 'PUT', base, { version: 1, reason: 'first' })).status, 200);
    assert.equal((await api(server, 'PUT', base, { version: 2 })).json.previous, 1);
    const third = await api(server, 'PUT', base, { version: 3 });
    assert.equal(third.json.version, 3);

    let resolved = await api(server, 'GET', '/v1/resolve/risk/score@stable');
    assert.equal(resolved.json.version, 3);
    assert.equal(resolved.json.alias, 'stable');
    assert.equal(resolved.headers.get('x-model-version'), '3');

    const back1 = await api(server, 'POST', `${base}/rollback`);
    assert.equal(back1.status, 200);
    assert.deepEqual([back1.json.previous, back1.json.version], [3, 2]);
    const back2 = await api(server, 'POST', `${base}/rollback`, { reason: 'bad metrics' });
    assert.deepEqual([back2.json.previous, back2.json.version], [2, 1]);
    assert.equal((await api(server, 'POST', `${base}/rollback`)).json.error.code, 'NO_PREVIOUS_VERSION');
    const toThree = await api(server, 'POST', `${base}/rollback`, { toVersion: 3 });
    assert.equal(toThree.json.version, 3);

    resolved = await api(server, 'GET', '/v1/resolve/risk/score@stable');
    assert.equal(resolved.json.version, 3, 'the resolve cache follows the alias');

    const history = await api(server, 'GET', `${base}/history`);
    assert.deepEqual(
      history.json.history.map((e: { action: string; from: number | null; to: number }) => [e.action, e.from, e.to]),
      [
        ['set', null, 1],
        ['set', 1, 2],
        ['set', 2, 3],
        ['rollback', 3, 2],
        ['rollback', 2, 1],
        ['rollback', 1, 3],
      ],
    );
    assert.equal(history.json.history[0].reason, 'first');
    assert.equal(history.json.history[4].reason, 'bad metrics');
    assert.equal(history.json.history[0].actor.name, 'admin');
    assert.ok(history.json.history.every((e: { seq: number }, i: number, all: { seq: number }[]) => i === 0 || e.seq > all[i - 1]!.seq));

    assert.equal((await api(server, 'DELETE', base)).status, 200);
    assert.equal((await api(server, 'GET', '/v1/resolve/risk/score@stable')).json.error.code, 'ALIAS_NOT_FOUND');
    assert.equal((await api(server, 'DELETE', base)).status, 404);
  });

  test('compare-and-set: a stale expected version gets 409 and changes nothing', async () => {
    const base = '/v1/models/risk/score/aliases/canary';
    assert.equal((await api(server, 'PUT', base, { version: 1, expectedVersion: null })).status, 200);
    const stale = await api(server, 'PUT', base, { version: 2, expectedVersion: null });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.error.code, 'ALIAS_CONFLICT');
    assert.equal((await api(server, 'PUT', base, { version: 2, expectedVersion: 3 })).status, 409);
    assert.equal((await api(server, 'PUT', base, { version: 2, expectedVersion: 1 })).status, 200);
    assert.equal((await api(server, 'GET', '/v1/resolve/risk/score@canary')).json.version, 2);
    const racing = await Promise.all([
      api(server, 'PUT', base, { version: 3, expectedVersion: 2 }),
      api(server, 'PUT', base, { version: 1, expectedVersion: 2 }),
    ]);
    assert.deepEqual(racing.map((r) => r.status).sort(), [200, 409]);
  });

  test('pointing at a version that does not exist is a 404', async () => {
    const res = await api(server, 'PUT', '/v1/models/risk/score/aliases/shadow', { version: 42 });
    assert.equal(res.status, 404);
    assert.equal(res.json.error.code, 'VERSION_NOT_FOUND');
    assert.equal((await api(server, 'PUT', '/v1/models/nobody/aliases/shadow', { version: 1 })).status, 404);
  });
});

describe('resolve', () => {
  test('by alias, v<N> and version digest, with ETag and 304', async () => {
    const v = await registerFiles(server, 'resolve/me', { 'w.bin': 'abc' });
    await api(server, 'PUT', '/v1/models/resolve/me/aliases/staging', { version: v.version });
    for (const ref of ['staging', 'v1', v.digest]) {
      const res = await api(server, 'GET', `/v1/resolve/resolve/me@${ref}`);
      assert.equal(res.status, 200, ref);
      assert.equal(res.json.digest, v.digest);
      assert.equal(res.json.ref, ref);
      assert.equal(res.headers.get('etag'), `"${v.digest}"`);
      assert.equal(res.headers.get('x-model-digest'), v.digest);
      assert.deepEqual(res.json.files, v.files);
      assert.equal(typeof res.json.seq, 'number');
      const cached = await api(server, 'GET', `/v1/resolve/resolve/me@${ref}`, undefined, { 'If-None-Match': `"${v.digest}"` });
      assert.equal(cached.status, 304);
      assert.equal(cached.text, '');
    }
    const head = await fetch(`${server.url}/v1/resolve/resolve/me@staging`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${server.token}` },
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('x-model-version'), '1');
    const got = await api(server, 'GET', '/v1/resolve/resolve/me@staging');
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(got.text)), 'HEAD has the GET body length');
    assert.equal(head.headers.get('etag'), got.headers.get('etag'));
    assert.equal((await api(server, 'GET', '/v1/resolve/resolve/me@v2')).json.error.code, 'VERSION_NOT_FOUND');
    assert.equal((await api(server, 'GET', '/v1/resolve/nope/nope@v1')).json.error.code, 'MODEL_NOT_FOUND');
  });

  test('after an alias moves, GET, HEAD and 304 all answer for the new version, whichever is asked first', async () => {
    const v1 = await registerFiles(server, 'resolve/heads', { 'w.bin': 'one' });
    const v2 = await registerFiles(server, 'resolve/heads', { 'w.bin': 'two' });
    const path = '/v1/resolve/resolve/heads@live';
    const head = () => fetch(`${server.url}${path}`, { method: 'HEAD', headers: { Authorization: `Bearer ${server.token}` } });
    const check = async (v: { version: number; digest: string }, first: 'GET' | 'HEAD' | '304') => {
      const asks = {
        GET: () => api(server, 'GET', path),
        HEAD: head,
        '304': () => api(server, 'GET', path, undefined, { 'If-None-Match': `"${v.digest}"` }),
      };
      // The response is rendered by the first request after the move; the others come from it.
      const order = [first, ...(['GET', 'HEAD', '304'] as const).filter((k) => k !== first)];
      const answers = new Map<string, Response | Awaited<ReturnType<typeof api>>>();
      for (const k of order) answers.set(k, await asks[k]());
      const got = answers.get('GET') as Awaited<ReturnType<typeof api>>;
      assert.equal(got.status, 200);
      assert.equal(got.json.digest, v.digest);
      const h = answers.get('HEAD') as Response;
      assert.equal(h.status, 200, `HEAD after ${first}`);
      assert.equal(h.headers.get('x-model-digest'), v.digest, `HEAD after ${first}`);
      assert.equal(h.headers.get('x-model-version'), String(v.version));
      assert.equal(h.headers.get('content-length'), String(Buffer.byteLength(got.text)));
      const nm = answers.get('304') as Awaited<ReturnType<typeof api>>;
      assert.equal(nm.status, 304, `304 after ${first}`);
      assert.equal(nm.headers.get('etag'), `"${v.digest}"`);
      assert.equal(nm.headers.get('x-model-digest'), v.digest);
    };
    await api(server, 'PUT', '/v1/models/resolve/heads/aliases/live', { version: v1.version });
    await check(v1, 'GET');
    for (const [i, first] of (['HEAD', '304', 'GET', '304'] as const).entries()) {
      const to = i % 2 === 0 ? v2 : v1;
      assert.equal((await api(server, 'PUT', '/v1/models/resolve/heads/aliases/live', { version: to.version })).status, 200);
      await check(to, first);
      // The old version's ETag is no longer current: a full answer with the new digest, never a 304.
      const stale = await api(server, 'GET', path, undefined, { 'If-None-Match': `"${(to === v1 ? v2 : v1).digest}"` });
      assert.equal(stale.status, 200);
      assert.equal(stale.json.digest, to.digest);
    }
  });

  test('files are served by path under every kind of ref', async () => {
    const v = await registerFiles(server, 'files/model', { 'dir/sub/w.bin': 'weights!', 'README.md': '# hi' });
    await api(server, 'PUT', '/v1/models/files/model/aliases/stable', { version: v.version });
    for (const ref of ['stable', 'v1', v.digest]) {
      const res = await fetch(`${server.url}/v1/models/files/model@${ref}/files/dir/sub/w.bin`, {
        headers: { Authorization: `Bearer ${server.token}` },
      });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'weights!');
      assert.equal(res.headers.get('x-model-digest'), v.digest);
    }
    const missing = await api(server, 'GET', '/v1/models/files/model@v1/files/nope.bin');
    assert.equal(missing.json.error.code, 'FILE_NOT_FOUND');
  });
});
