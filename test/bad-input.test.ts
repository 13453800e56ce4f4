// Malformed and hostile input. Each request must get a clear 4xx JSON error
// {"error":{"code","message"}}, must store nothing (no new model, version, alias or blob, and an
// empty <dataDir>/blobs/tmp), and must leave the server serving (a resolve still works).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startServer, type TestServer } from './harness/server.js';
import { api, registerFiles, sha256, uploadBlob } from './harness/http.js';

const MODEL = 'team/good';
const HEX64 = 'a'.repeat(64);

interface Resp {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: any;
}

interface SendOptions {
  headers?: Record<string, string>;
  /** Sent with Content-Length. */
  body?: Buffer | string;
  /** Sent one by one with Transfer-Encoding: chunked. */
  chunks?: (Buffer | string)[];
  /** false: no Authorization header; a string: that header value. */
  auth?: boolean | string;
}

/**
 * One request through node:http, which sends the path exactly as given (no dot-segment or
 * backslash normalisation, unlike fetch). A server that answers early and closes while the body
 * is still going out is fine: the response wins over the write error.
 */
function send(server: TestServer, method: string, path: string, opts: SendOptions = {}): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.auth === undefined || opts.auth === true) headers.Authorization = `Bearer ${server.token}`;
    else if (typeof opts.auth === 'string') headers.Authorization = opts.auth;
    if (opts.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port: server.port, method, path, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json: any = null;
        try {
          json = body.length ? JSON.parse(body.toString('utf8')) : null;
        } catch {
          json = null;
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, json });
      });
      res.on('error', reject);
    });
    req.on('error', (err) => setTimeout(() => answered || reject(err), 500));
    if (opts.chunks) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else req.end(opts.body);
  });
}

/** The error envelope: status, JSON content type, a code and a non-empty message. */
function assertError(r: Resp, status: number | [number, number], code?: string | string[]): void {
  const text = r.body.toString('utf8').slice(0, 300);
  if (Array.isArray(status)) assert.ok(r.status >= status[0] && r.status <= status[1], `status ${r.status} outside ${status}: ${text}`);
  else assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${text}`);
  assert.match(String(r.headers['content-type']), /^application\/json/, text);
  assert.ok(r.json && typeof r.json.error === 'object', `not an error envelope: ${text}`);
  assert.equal(typeof r.json.error.code, 'string');
  assert.match(r.json.error.code, /^[A-Z_]+$/);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
  if (code !== undefined) {
    const codes = Array.isArray(code) ? code : [code];
    assert.ok(codes.includes(r.json.error.code), `code ${r.json.error.code} is not ${codes.join('|')}: ${text}`);
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { recursive: true })).map(String).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

interface Snapshot {
  blobs: string[];
  models: string;
  versions: string;
  aliases: string;
}

async function snapshot(s: TestServer, model: string): Promise<Snapshot> {
  const models = await api(s, 'GET', '/v1/models?limit=1000');
  const versions = await api(s, 'GET', `/v1/models/${model}/versions?limit=1000`);
  const shown = await api(s, 'GET', `/v1/models/${model}`);
  assert.equal(models.status, 200);
  assert.equal(versions.status, 200);
  assert.equal(shown.status, 200);
  return {
    blobs: (await listDir(join(s.dataDir, 'blobs', 'sha256'))).filter((p) => p.includes('/')),
    models: JSON.stringify(models.json.models.map((m: { name: string; latestVersion: number }) => [m.name, m.latestVersion])),
    versions: JSON.stringify(versions.json.versions.map((v: { version: number; digest: string }) => [v.version, v.digest])),
    aliases: JSON.stringify(shown.json.aliases),
  };
}

/** Nothing was stored since `before`, blobs/tmp is empty, and resolving still works. */
async function assertUnchanged(s: TestServer, before: Snapshot, model: string, expectDigest: string): Promise<void> {
  // A failed upload's temporary file is removed asynchronously after the response; give it a moment.
  const deadline = Date.now() + 3000;
  let tmp = await listDir(join(s.dataDir, 'blobs', 'tmp'));
  while (tmp.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    tmp = await listDir(join(s.dataDir, 'blobs', 'tmp'));
  }
  assert.deepEqual(tmp, [], 'blobs/tmp is not empty');
  const now = await snapshot(s, model);
  assert.deepEqual(now, before, 'registry or blob store changed');
  const resolved = await send(s, 'GET', `/v1/resolve/${model}@live`);
  assert.equal(resolved.status, 200, resolved.body.toString());
  assert.equal(resolved.json.digest, expectDigest);
}

let server: TestServer;
/** MODELGATE_MAX_JSON_BYTES=1024, MODELGATE_MAX_BLOB_BYTES=4096. */
let small: TestServer;
let goodDigest = '';
let smallDigest = '';
const content = randomBytes(300);
let contentDigest = '';

before(async () => {
  [server, small] = await Promise.all([
    startServer(),
    startServer({ env: { MODELGATE_MAX_JSON_BYTES: '1024', MODELGATE_MAX_BLOB_BYTES: '4096' } }),
  ]);
  const v = await registerFiles(server, MODEL, { 'w.bin': content, 'dir/config.json': '{"a":1}' });
  goodDigest = v.digest;
  contentDigest = sha256(content);
  assert.equal((await api(server, 'PUT', `/v1/models/${MODEL}/aliases/live`, { version: 1 })).status, 200);
  const sv = await registerFiles(small, MODEL, { 'w.bin': content });
  smallDigest = sv.digest;
  assert.equal((await api(small, 'PUT', `/v1/models/${MODEL}/aliases/live`, { version: 1 })).status, 200);
});

after(async () => {
  await Promise.all([server?.dispose(), small?.dispose()]);
});

/** Runs `body` and then checks that nothing was stored and the server still resolves. */
async function unchanged(s: TestServer, body: () => Promise<void>): Promise<void> {
  const model = MODEL;
  const before = await snapshot(s, model);
  await body();
  await assertUnchanged(s, before, model, s === server ? goodDigest : smallDigest);
}

function registration(files: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ files, ...extra });
}

const goodFile = () => ({ path: 'w.bin', size: content.length, digest: contentDigest });

describe('model names', () => {
  test('malformed names are refused at registration', async () => {
    await unchanged(server, async () => {
      const body = registration([goodFile()]);
      const cases: [string, number | [number, number], string[]][] = [
        ['Upper/model', 400, ['NAME_INVALID']],
        ['team/Model', 400, ['NAME_INVALID']],
        ['a//b', [400, 404], ['NAME_INVALID', 'ROUTE_NOT_FOUND']],
        ['a/b/c', [400, 404], ['NAME_INVALID', 'ROUTE_NOT_FOUND']],
        ['model-', 400, ['NAME_INVALID']],
        ['team/model.', 400, ['NAME_INVALID']],
        ['-model', 400, ['NAME_INVALID']],
        ['a'.repeat(129), 400, ['NAME_INVALID']],
        [`team/${'b'.repeat(124)}`, 400, ['NAME_INVALID']],
        ['team/files', 400, ['NAME_INVALID']],
        ['team/approvals', 400, ['NAME_INVALID']],
        ['ui', 400, ['NAME_INVALID']],
        ['ui/model', 400, ['NAME_INVALID']],
        ['te%20am', 400, ['NAME_INVALID']],
      ];
      for (const [name, status, codes] of cases) {
        const r = await send(server, 'POST', `/v1/models/${name}/versions`, { body, headers: { 'Content-Type': 'application/json' } });
        assertError(r, status, codes);
      }
    });
  });

  test('a name ending in a reserved sub-resource word cannot be registered', async () => {
    await unchanged(server, async () => {
      const body = registration([goodFile()]);
      for (const word of ['versions', 'aliases', 'lineage', 'impact']) {
        const r = await send(server, 'POST', `/v1/models/team/${word}/versions`, { body, headers: { 'Content-Type': 'application/json' } });
        assertError(r, [400, 405]);
      }
    });
  });

  test('the limit is 128 characters: 128 is accepted (control for the 129 case)', async () => {
    const name = 'a'.repeat(128);
    const r = await send(server, 'POST', `/v1/models/${name}/versions`, {
      body: registration([goodFile()]),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(r.status, 201, r.body.toString());
    assert.equal(r.json.name, name);
  });

  test('malformed names in resolve and files URLs', async () => {
    await unchanged(server, async () => {
      for (const name of ['Team/good', 'team/good-', 'a'.repeat(129)]) {
        assertError(await send(server, 'GET', `/v1/resolve/${name}@live`), 400, 'NAME_INVALID');
        assertError(await send(server, 'GET', `/v1/models/${name}@live/files/w.bin`), 400, 'NAME_INVALID');
      }
      assertError(await send(server, 'GET', '/v1/resolve/a/b/c@live'), 400, 'NAME_INVALID');
      assertError(await send(server, 'GET', '/v1/resolve/@live'), 400, ['REF_INVALID', 'NAME_INVALID']);
    });
  });
});

describe('references', () => {
  const bad: [string, string[]][] = [
    ['', ['REF_INVALID']],
    ['V1', ['REF_INVALID']],
    ['Production', ['REF_INVALID']],
    ['sha256:xyz', ['DIGEST_INVALID', 'REF_INVALID']],
    [`sha256:${'a'.repeat(63)}`, ['DIGEST_INVALID', 'REF_INVALID']],
    [`sha256:${'A'.repeat(64)}`, ['DIGEST_INVALID', 'REF_INVALID']],
    ['v1.0', ['REF_INVALID']],
    ['-x', ['REF_INVALID']],
  ];

  test('malformed refs: 400 on resolve and on files', async () => {
    await unchanged(server, async () => {
      for (const [ref, codes] of bad) {
        assertError(await send(server, 'GET', `/v1/resolve/${MODEL}@${ref}`), 400, codes);
        const head = await send(server, 'HEAD', `/v1/resolve/${MODEL}@${ref}`);
        assert.equal(head.status, 400, `HEAD @${ref}`);
        assert.equal(head.body.length, 0);
        assertError(await send(server, 'GET', `/v1/models/${MODEL}@${ref}/files/w.bin`), 400, codes);
      }
    });
  });

  test('@v0 is not a valid reference (neither v<N> with N >= 1 nor a permitted alias)', async () => {
    await unchanged(server, async () => {
      assertError(await send(server, 'GET', `/v1/resolve/${MODEL}@v0`), 400, 'REF_INVALID');
      assertError(await send(server, 'GET', `/v1/models/${MODEL}@v0/files/w.bin`), 400, 'REF_INVALID');
      // The design forbids aliases of the form v<N>: one named v0 must not be creatable either.
      const put = await send(server, 'PUT', `/v1/models/${MODEL}/aliases/v0`, {
        body: JSON.stringify({ version: 1 }),
        headers: { 'Content-Type': 'application/json' },
      });
      assertError(put, 400, 'ALIAS_INVALID');
    });
  });

  test('unknown but well-formed refs are 404s that say what is missing', async () => {
    await unchanged(server, async () => {
      assertError(await send(server, 'GET', `/v1/resolve/${MODEL}@v99`), 404, 'VERSION_NOT_FOUND');
      assertError(await send(server, 'GET', `/v1/resolve/${MODEL}@staging`), 404, 'ALIAS_NOT_FOUND');
      assertError(await send(server, 'GET', `/v1/resolve/${MODEL}@sha256:${HEX64}`), 404, 'VERSION_NOT_FOUND');
      assertError(await send(server, 'GET', `/v1/resolve/team/nope@v1`), 404, 'MODEL_NOT_FOUND');
    });
  });
});

describe('file paths', () => {
  test('traversal, absolute, backslash, NUL and empty segments in the files URL: 400 PATH_INVALID', async () => {
    await unchanged(server, async () => {
      const prefix = `/v1/models/${MODEL}@v1/files/`;
      const paths = [
        '../w.bin',
        'dir/../w.bin',
        'dir/../../../../etc/passwd',
        './w.bin',
        '/etc/passwd',
        'dir\\config.json',
        '..\\w.bin',
        'w.bin%00',
        'dir/%00config.json',
        'dir//config.json',
        'dir/',
        '',
        '%2e%2e/w.bin',
        '%2E%2E/w.bin',
        'dir/%2e%2e/w.bin',
        '%2e%2e%2fw.bin',
        '%2fetc%2fpasswd',
        'dir%5cconfig.json',
        'dir/%2e/config.json',
        '%0a',
      ];
      for (const p of paths) {
        const r = await send(server, 'GET', prefix + p);
        assertError(r, 400, 'PATH_INVALID');
        const h = await send(server, 'HEAD', prefix + p);
        assert.equal(h.status, 400, `HEAD ${p}`);
        assert.equal(h.body.length, 0);
      }
      // Control: the same file by its proper path is served.
      const ok = await send(server, 'GET', `${prefix}dir/config.json`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.toString(), '{"a":1}');
      const encoded = await send(server, 'GET', `${prefix}dir%2Fconfig.json`);
      assert.ok(encoded.status === 200 || encoded.status === 400, `encoded slash gave ${encoded.status}`);
    });
  });

  test('malformed percent-encoding: 400 URL_INVALID', async () => {
    await unchanged(server, async () => {
      assertError(await send(server, 'GET', `/v1/models/${MODEL}@v1/files/w%zz.bin`), 400, 'URL_INVALID');
      assertError(await send(server, 'GET', `/v1/models/${MODEL}@v1/files/%`), 400, 'URL_INVALID');
      assertError(await send(server, 'GET', `/v1/resolve/${MODEL}%@v1`), 400, 'URL_INVALID');
      assertError(await send(server, 'GET', `/v1/blobs/sha256:%zz${HEX64}`), 400, 'URL_INVALID');
    });
  });

  test('bad paths in a registration: 400 FILES_INVALID listing every one', async () => {
    await unchanged(server, async () => {
      const d = contentDigest;
      const n = content.length;
      const badPaths = ['../w.bin', '/etc/passwd', 'a\\b', 'a\u0000b', 'a//b', 'a/./b', '', 'x/', 'a/..', `${'p'.repeat(1025)}`];
      const files = [goodFile(), ...badPaths.map((path) => ({ path, size: n, digest: d }))];
      const r = await send(server, 'POST', `/v1/models/${MODEL}/versions`, {
        body: registration(files),
        headers: { 'Content-Type': 'application/json' },
      });
      assertError(r, 400, 'FILES_INVALID');
      assert.ok(Array.isArray(r.json.error.details), 'details is not a list');
      assert.equal(r.json.error.details.length, badPaths.length, JSON.stringify(r.json.error.details));
      for (const path of badPaths) {
        const problem = r.json.error.details.find((p: { path: string }) => p.path === path);
        assert.ok(problem, `no problem listed for ${JSON.stringify(path)}`);
        assert.equal(typeof problem.problem, 'string');
      }
    });
  });
});

describe('digests', () => {
  const badDigests = [
    `sha256:${'A'.repeat(64)}`,
    `sha256:${'a'.repeat(63)}`,
    `sha256:${'a'.repeat(65)}`,
    `md5:${'a'.repeat(32)}`,
    `sha512:${'a'.repeat(128)}`,
    'a'.repeat(64),
    `sha256:${'g'.repeat(64)}`,
    `SHA256:${'a'.repeat(64)}`,
    '',
  ];

  test('POST /v1/blobs with a malformed digest: 400 DIGEST_INVALID, nothing stored', async () => {
    await unchanged(server, async () => {
      const body = randomBytes(1000);
      for (const digest of badDigests) {
        const query = digest === '' ? '' : `?digest=${encodeURIComponent(digest)}`;
        assertError(await send(server, 'POST', `/v1/blobs${query}`, { body }), 400, 'DIGEST_INVALID');
      }
      // The real digest in uppercase names the same bytes, and is still refused.
      const upper = `sha256:${sha256(body).slice(7).toUpperCase()}`;
      assertError(await send(server, 'POST', `/v1/blobs?digest=${upper}`, { body }), 400, 'DIGEST_INVALID');
      assert.equal((await send(server, 'HEAD', `/v1/blobs/${sha256(body)}`)).status, 404);
    });
  });

  test('GET /v1/blobs with a malformed digest: 400 DIGEST_INVALID', async () => {
    await unchanged(server, async () => {
      for (const digest of badDigests.filter((d) => d !== '')) {
        assertError(await send(server, 'GET', `/v1/blobs/${encodeURIComponent(digest)}`), 400, 'DIGEST_INVALID');
      }
      assertError(await send(server, 'GET', `/v1/blobs/sha256:${HEX64}`), 404, 'BLOB_NOT_FOUND');
    });
  });

  test('malformed digests in a registration: 400 FILES_INVALID listing every one', async () => {
    await unchanged(server, async () => {
      const files = badDigests.map((digest, i) => ({ path: `f${i}.bin`, size: 1, digest }));
      const r = await send(server, 'POST', `/v1/models/${MODEL}/versions`, {
        body: registration([goodFile(), ...files]),
        headers: { 'Content-Type': 'application/json' },
      });
      assertError(r, 400, 'FILES_INVALID');
      assert.equal(r.json.error.details.length, files.length, JSON.stringify(r.json.error.details));
      for (const f of files)
        assert.ok(
          r.json.error.details.some((p: { path: string }) => p.path === f.path),
          `${f.path} not listed`,
        );
    });
  });

  test('missing blobs and wrong sizes: 400 FILES_INVALID with details listing every problem', async () => {
    await unchanged(server, async () => {
      const files = [
        goodFile(),
        { path: 'missing-1.bin', size: 10, digest: `sha256:${'1'.repeat(64)}` },
        { path: 'missing-2.bin', size: 10, digest: `sha256:${'2'.repeat(64)}` },
        { path: 'too-big.bin', size: content.length + 1, digest: contentDigest },
        { path: 'too-small.bin', size: 0, digest: contentDigest },
      ];
      const r = await send(server, 'POST', `/v1/models/${MODEL}/versions`, {
        body: registration(files),
        headers: { 'Content-Type': 'application/json' },
      });
      assertError(r, 400, 'FILES_INVALID');
      const details = r.json.error.details as { path: string; problem: string }[];
      assert.deepEqual(details.map((p) => p.path).sort(), ['missing-1.bin', 'missing-2.bin', 'too-big.bin', 'too-small.bin']);
      for (const p of details) assert.ok(p.problem.length > 0);
    });
  });

  test('duplicate paths: 400 FILES_INVALID', async () => {
    await unchanged(server, async () => {
      const r = await send(server, 'POST', `/v1/models/${MODEL}/versions`, {
        body: registration([goodFile(), goodFile(), { path: 'other.bin', size: content.length, digest: contentDigest }]),
        headers: { 'Content-Type': 'application/json' },
      });
      assertError(r, 400, 'FILES_INVALID');
      assert.deepEqual(
        r.json.error.details.map((p: { path: string }) => p.path),
        ['w.bin'],
      );
    });
  });
});

describe('JSON bodies', () => {
  const post = (body: SendOptions) =>
    send(server, 'POST', `/v1/models/${MODEL}/versions`, { headers: { 'Content-Type': 'application/json' }, ...body });

  test('invalid JSON: 400 JSON_INVALID', async () => {
    await unchanged(server, async () => {
      for (const body of ['{', '{"files": [}', 'files=1', '\u0000', '{"files":[]}}', "{'files':[]}"]) {
        assertError(await post({ body }), 400, 'JSON_INVALID');
      }
      assertError(await post({ chunks: ['{"files": [', '{"path": "w.bin",'] }), 400, 'JSON_INVALID');
    });
  });

  test('empty body: 400 JSON_INVALID', async () => {
    await unchanged(server, async () => {
      assertError(await post({ body: '' }), 400, 'JSON_INVALID');
      assertError(await post({}), 400, 'JSON_INVALID');
      assertError(await send(server, 'PUT', `/v1/models/${MODEL}/aliases/staging`, { body: '' }), 400, 'JSON_INVALID');
    });
  });

  test('unknown fields and wrong shapes: 400 VALIDATION_FAILED', async () => {
    await unchanged(server, async () => {
      const f = goodFile();
      const bodies: unknown[] = [
        { files: [f], extra: true },
        { files: [{ ...f, mode: 420 }] },
        { files: [] },
        { files: [{ ...f, size: -1 }] },
        { files: [{ ...f, size: '300' }] },
        { files: [{ ...f, size: 1.5 }] },
        { files: [{ path: f.path, digest: f.digest }] },
        { files: f },
        { file: [f] },
        null,
        [],
        'files',
        42,
      ];
      for (const body of bodies) {
        const r = await post({ body: JSON.stringify(body) });
        assertError(r, 400, 'VALIDATION_FAILED');
        assert.ok(Array.isArray(r.json.error.details), `no details for ${JSON.stringify(body)}`);
      }
      const alias = await send(server, 'PUT', `/v1/models/${MODEL}/aliases/live`, {
        body: JSON.stringify({ version: 1, force: true }),
        headers: { 'Content-Type': 'application/json' },
      });
      assertError(alias, 400, 'VALIDATION_FAILED');
      const alias2 = await send(server, 'PUT', `/v1/models/${MODEL}/aliases/staging`, { body: JSON.stringify({ version: '1' }) });
      assertError(alias2, 400, 'VALIDATION_FAILED');
    });
  });

  test('a malformed alias name: 400 ALIAS_INVALID', async () => {
    await unchanged(server, async () => {
      for (const alias of ['Prod', '1st', 'v1', 'a_b', 'x'.repeat(64)]) {
        const r = await send(server, 'PUT', `/v1/models/${MODEL}/aliases/${alias}`, { body: JSON.stringify({ version: 1 }) });
        assertError(r, 400, 'ALIAS_INVALID');
      }
    });
  });

  test('a JSON body over server.maxJsonBytes: 413, declared or chunked', async () => {
    await unchanged(small, async () => {
      const files = Array.from({ length: 20 }, (_, i) => ({ path: `file-${i}.bin`, size: content.length, digest: contentDigest }));
      const body = registration(files);
      assert.ok(body.length > 1024);
      const declared = await send(small, 'POST', `/v1/models/${MODEL}/versions`, { body, headers: { 'Content-Type': 'application/json' } });
      assertError(declared, 413, 'BODY_TOO_LARGE');
      const chunked = await send(small, 'POST', `/v1/models/${MODEL}/versions`, {
        chunks: [body.slice(0, 600), body.slice(600, 1200), body.slice(1200)],
        headers: { 'Content-Type': 'application/json' },
      });
      assertError(chunked, 413, 'BODY_TOO_LARGE');
      // A body just under the limit is read and judged on its content.
      const fits = await send(small, 'POST', `/v1/models/${MODEL}/versions`, {
        body: registration([goodFile()], { metadata: { pad: 'x'.repeat(500) } }),
      });
      assert.equal(fits.status, 200, fits.body.toString());
    });
  });
});

describe('blob size limit', () => {
  test('a blob over MODELGATE_MAX_BLOB_BYTES: 413 with Content-Length, and chunked without it; nothing stored', async () => {
    await unchanged(small, async () => {
      const body = randomBytes(8192);
      const digest = sha256(body);
      const declared = await send(small, 'POST', `/v1/blobs?digest=${digest}`, { body });
      assertError(declared, 413, 'BODY_TOO_LARGE');
      const chunked = await send(small, 'POST', `/v1/blobs?digest=${digest}`, {
        chunks: [body.subarray(0, 3000), body.subarray(3000, 6000), body.subarray(6000)],
      });
      assertError(chunked, 413, 'BODY_TOO_LARGE');
      assert.equal((await send(small, 'HEAD', `/v1/blobs/${digest}`)).status, 404);
    });
    // Control: exactly at the limit is accepted, declared or chunked.
    const atLimit = randomBytes(4096);
    const ok = await send(small, 'POST', `/v1/blobs?digest=${sha256(atLimit)}`, {
      chunks: [atLimit.subarray(0, 1000), atLimit.subarray(1000)],
    });
    assert.equal(ok.status, 201, ok.body.toString());
    const again = await send(small, 'POST', `/v1/blobs?digest=${sha256(atLimit)}`, { body: atLimit });
    assert.equal(again.status, 200, again.body.toString());
  });

  test('a resumable chunk that takes an upload over the limit: 413', async () => {
    const created = await send(small, 'POST', '/v1/uploads');
    assert.equal(created.status, 201);
    const id = created.json.id as string;
    const r = await send(small, 'PATCH', `/v1/uploads/${id}`, { chunks: [randomBytes(3000), randomBytes(3000)] });
    assertError(r, 413, 'BODY_TOO_LARGE');
    const status = await send(small, 'GET', `/v1/uploads/${id}`);
    assert.equal(status.status, 200);
    assert.ok(status.json.offset <= 4096, `offset ${status.json.offset} is past the limit`);
  });
});

describe('routes, methods and auth', () => {
  test('unknown routes: 404 ROUTE_NOT_FOUND', async () => {
    await unchanged(server, async () => {
      for (const [method, path] of [
        ['GET', '/favicon.ico'],
        ['GET', '/v1'],
        ['GET', '/v1/nope'],
        ['GET', '/v1/resolve-typo/team/good@live'],
        ['POST', '/v1/nothing-here'],
        ['GET', `/v1/models/${MODEL}/versions/1/extra`],
        ['GET', `/v1/models/${MODEL}/aliases/live/history/more`],
        ['GET', `/v1/models/${MODEL}/bogus/1`],
        ['GET', `/v1/models/${MODEL}@v1/nofiles/w.bin`],
        ['DELETE', '/v1/whatever'],
      ] as const) {
        assertError(await send(server, method, path), 404, 'ROUTE_NOT_FOUND');
      }
    });
  });

  test('wrong methods on model routes: 405 with Allow', async () => {
    await unchanged(server, async () => {
      // [method, path, methods Allow must name]; Allow must never name the refused method.
      const cases: [string, string, string[]][] = [
        ['DELETE', '/v1/models/x/versions', ['GET', 'POST']],
        ['PUT', `/v1/models/${MODEL}/versions`, ['GET', 'POST']],
        ['PUT', `/v1/models/${MODEL}/versions/1`, ['GET', 'PATCH']],
        ['POST', `/v1/models/${MODEL}/versions/1`, ['GET', 'PATCH']],
        ['POST', `/v1/models/${MODEL}`, ['GET']],
        ['POST', `/v1/models/${MODEL}@v1/files/w.bin`, ['GET', 'HEAD']],
        ['DELETE', `/v1/models/${MODEL}@v1/files/w.bin`, ['GET', 'HEAD']],
        ['PUT', `/v1/models/${MODEL}/aliases/live/rollback`, ['GET', 'POST']],
        ['POST', `/v1/models/${MODEL}/aliases/live/history`, ['GET']],
        ['POST', `/v1/models/${MODEL}/aliases`, ['GET']],
      ];
      for (const [method, path, allow] of cases) {
        const r = await send(server, method, path);
        assertError(r, 405, 'METHOD_NOT_ALLOWED');
        const listed = String(r.headers['allow'] ?? '')
          .split(',')
          .map((m) => m.trim());
        for (const m of allow) assert.ok(listed.includes(m), `Allow "${r.headers['allow']}" lacks ${m} for ${method} ${path}`);
        assert.ok(!listed.includes(method), `Allow "${r.headers['allow']}" names the refused ${method} for ${path}`);
      }
    });
  });

  test('wrong methods on blob and resolve routes: 405 with Allow', async () => {
    await unchanged(server, async () => {
      const cases: [string, string][] = [
        ['PATCH', `/v1/blobs/${contentDigest}`],
        ['PUT', `/v1/blobs/${contentDigest}`],
        ['POST', `/v1/resolve/${MODEL}@live`],
        ['DELETE', `/v1/resolve/${MODEL}@live`],
      ];
      for (const [method, path] of cases) {
        const r = await send(server, method, path);
        assertError(r, 405, 'METHOD_NOT_ALLOWED');
        const listed = String(r.headers['allow'] ?? '')
          .split(',')
          .map((m) => m.trim());
        assert.ok(listed.includes('GET') && listed.includes('HEAD'), `Allow "${r.headers['allow']}" for ${method} ${path}`);
        assert.ok(!listed.includes(method), `Allow "${r.headers['allow']}" names the refused ${method}`);
      }
      assert.equal((await send(server, 'HEAD', `/v1/blobs/${contentDigest}`)).status, 200);
    });
  });

  test('missing or wrong token: 401 with WWW-Authenticate, nothing stored', async () => {
    await unchanged(server, async () => {
      const body = randomBytes(500);
      const requests: [string, string, SendOptions][] = [
        ['GET', `/v1/resolve/${MODEL}@live`, {}],
        ['HEAD', `/v1/resolve/${MODEL}@live`, {}],
        ['GET', `/v1/blobs/${contentDigest}`, {}],
        ['GET', `/v1/models/${MODEL}@v1/files/w.bin`, {}],
        ['GET', '/v1/models', {}],
        ['POST', `/v1/models/${MODEL}/versions`, { body: registration([goodFile()]) }],
        ['PUT', `/v1/models/${MODEL}/aliases/staging`, { body: JSON.stringify({ version: 1 }) }],
        ['POST', `/v1/blobs?digest=${sha256(body)}`, { body }],
        ['POST', `/v1/blobs?digest=${sha256(body)}`, { chunks: [body] }],
        ['POST', '/v1/uploads', {}],
      ];
      const credentials: (false | string)[] = [
        false,
        'Bearer wrong-token',
        `Basic ${Buffer.from('admin:x').toString('base64')}`,
        'Bearer',
        `bearer${server.token}`,
        `Bearer ${server.token}x`,
      ];
      for (const [method, path, opts] of requests) {
        for (const auth of credentials) {
          const r = await send(server, method, path, { ...opts, auth });
          assert.equal(r.status, 401, `${method} ${path} with ${auth}: ${r.status}`);
          assert.equal(r.headers['www-authenticate'], 'Bearer realm="modelgate"');
          if (method !== 'HEAD') assertError(r, 401, 'UNAUTHORIZED');
        }
      }
      assert.equal((await send(server, 'HEAD', `/v1/blobs/${sha256(body)}`)).status, 404);
    });
  });

  test('?limit=0 and other bad limits: 400 LIMIT_INVALID', async () => {
    await unchanged(server, async () => {
      for (const limit of ['0', '-1', 'abc', '1.5', '9999999']) {
        assertError(await send(server, 'GET', `/v1/models?limit=${limit}`), 400, 'LIMIT_INVALID');
        assertError(await send(server, 'GET', `/v1/models/${MODEL}/versions?limit=${limit}`), 400, 'LIMIT_INVALID');
      }
      assertError(await send(server, 'GET', `/v1/models/${MODEL}/versions?cursor=abc`), 400, 'VERSION_INVALID');
    });
  });
});

describe('monolithic upload verification', () => {
  test('digest mismatch: 400 DIGEST_MISMATCH and no blob stored under either digest', async () => {
    await unchanged(server, async () => {
      const body = randomBytes(200_000);
      const claimed = sha256(randomBytes(16));
      const r = await send(server, 'POST', `/v1/blobs?digest=${claimed}`, { body });
      assertError(r, 400, 'DIGEST_MISMATCH');
      assert.equal(r.json.error.details?.actual, sha256(body));
      assert.equal((await send(server, 'HEAD', `/v1/blobs/${claimed}`)).status, 404);
      assert.equal((await send(server, 'HEAD', `/v1/blobs/${sha256(body)}`)).status, 404);
      const chunked = await send(server, 'POST', `/v1/blobs?digest=${claimed}`, {
        chunks: [body.subarray(0, 70_000), body.subarray(70_000)],
      });
      assertError(chunked, 400, 'DIGEST_MISMATCH');
      assert.equal((await send(server, 'HEAD', `/v1/blobs/${claimed}`)).status, 404);
      // Claiming the digest of a blob that exists, with other bytes, leaves that blob intact.
      const forged = await send(server, 'POST', `/v1/blobs?digest=${contentDigest}`, { body: randomBytes(content.length) });
      assertError(forged, 400, 'DIGEST_MISMATCH');
      const intact = await send(server, 'GET', `/v1/blobs/${contentDigest}`);
      assert.ok(intact.body.equals(content), 'the existing blob was altered');
    });
  });

  test('a malformed Content-Length is refused (4xx or a dropped connection), stores nothing, server unharmed', async () => {
    await unchanged(server, async () => {
      for (const length of ['-5', '12abc', '1e3', '0x10', '5, 5']) {
        const reply = await rawExchange(
          server.port,
          `POST /v1/blobs?digest=${sha256('hello')} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nContent-Length: ${length}\r\n\r\nhello`,
        );
        // uWS drops such a request at the parser, before any route runs; a reply, if any, must be a 4xx.
        assert.ok(reply === '' || /^HTTP\/1\.1 4\d\d /.test(reply), `Content-Length: ${length} got ${reply.slice(0, 120)}`);
      }
      assert.equal((await send(server, 'HEAD', `/v1/blobs/${sha256('hello')}`)).status, 404);
    });
  });
});

describe('rejected bodies on a kept-alive connection', () => {
  /** Responses found in a raw reply stream. */
  const statuses = (reply: string) => [...reply.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

  test('a body the server refused is never read as the next request', async () => {
    for (const s of [server, small]) {
      await unchanged(s, async () => {
        const smuggled = `GET /v1/resolve/${MODEL}@live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.token}\r\n\r\n`;
        const padded = smuggled + ' '.repeat(s === small ? 1200 : 0);
        const chunked = `${Buffer.byteLength(padded).toString(16)}\r\n${padded}\r\n0\r\n\r\n`;
        const heads = [
          `POST /v1/blobs?digest=md5:${'a'.repeat(32)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.token}\r\n`,
          `POST /v1/blobs?digest=${sha256('x')} HTTP/1.1\r\nHost: x\r\n`,
          `POST /v1/models/${MODEL}/versions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.token}\r\n`,
          `PUT /v1/models/${MODEL}/aliases/Bad HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.token}\r\n`,
          `PATCH /v1/uploads/${randomUUID()} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.token}\r\nContent-Range: bytes x-y\r\n`,
        ];
        for (const head of heads) {
          for (const framing of ['length', 'chunked']) {
            const payload =
              framing === 'length'
                ? `${head}Content-Length: ${Buffer.byteLength(padded)}\r\n\r\n${padded}`
                : `${head}Transfer-Encoding: chunked\r\n\r\n${chunked}`;
            const reply = await rawExchange(s.port, payload, 600);
            const seen = statuses(reply);
            assert.equal(seen.length, 1, `${framing} ${head.split('\r\n')[0]} produced responses ${JSON.stringify(seen)}`);
            assert.ok(seen[0]! >= 400 && seen[0]! < 500, `${head.split('\r\n')[0]}: ${seen[0]}`);
          }
        }
      });
    }
  });

  test('conflicting Content-Length and Transfer-Encoding never let a smuggled request through', async () => {
    await unchanged(server, async () => {
      const smuggled = `GET /v1/resolve/${MODEL}@live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n\r\n`;
      const chunked = `${Buffer.byteLength(smuggled).toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`;
      const start = `POST /v1/blobs?digest=${sha256('never')} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n`;
      for (const headers of [
        'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n',
        'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n',
      ]) {
        const reply = await rawExchange(server.port, `${start}${headers}\r\n${chunked}`, 600);
        const seen = statuses(reply);
        assert.ok(!seen.includes(200), `the smuggled resolve was answered: ${JSON.stringify(seen)}`);
        assert.ok(seen.length <= 1, JSON.stringify(seen));
      }
    });
  });

  test('control: two pipelined valid requests get two responses', async () => {
    const one = `GET /v1/resolve/${MODEL}@live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n\r\n`;
    const reply = await rawExchange(server.port, one + one, 600);
    assert.deepEqual(statuses(reply), [200, 200]);
  });
});

describe('answers given before the body was read (lingering close)', () => {
  /**
   * Sends a request whose body the server refuses before reading it, in 64 KiB writes that each
   * wait for the socket to drain (so most of the body goes out after the answer is decided); once
   * the answer is in, a resolve on the same connection. Returns the statuses seen and whether the
   * socket was reset.
   */
  async function refusedThenResolve(s: TestServer, head: string, body: Buffer): Promise<{ statuses: number[]; reset: boolean }> {
    const socket = connect(s.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const chunks: Buffer[] = [];
    let reset = false;
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((resolve) => {
      socket.on('error', () => (reset = true));
      socket.on('close', () => resolve());
    });
    const seen = () =>
      [
        ...Buffer.concat(chunks)
          .toString('latin1')
          .matchAll(/HTTP\/1\.1 (\d{3})/g),
      ].map((m) => Number(m[1]));
    const write = (data: Buffer | string) =>
      new Promise<void>((resolve) => (socket.write(data) ? resolve() : socket.once('drain', resolve)));
    await write(`${head}Content-Length: ${body.length}\r\n\r\n`);
    for (let at = 0; at < body.length && !reset; at += 64 * 1024) await write(body.subarray(at, at + 64 * 1024));
    const until = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while (seen().length < n && !reset && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    await until(1);
    if (!reset) await write(`GET /v1/resolve/${MODEL}@live HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.token}\r\n\r\n`);
    await until(2);
    socket.destroy();
    await closed;
    return { statuses: seen(), reset };
  }

  test('an oversize JSON body declared up front: the client reads the 413, and the connection serves the next request', async () => {
    const body = Buffer.alloc(4 * 1024 * 1024, 0x20);
    for (let i = 0; i < 5; i++) {
      const r = await refusedThenResolve(
        small,
        `POST /v1/models/${MODEL}/versions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${small.token}\r\nContent-Type: application/json\r\n`,
        body,
      );
      assert.deepEqual(r, { statuses: [413, 200], reset: false }, `try ${i}`);
    }
  });

  test('an oversize blob and an unauthenticated upload: the answer arrives intact, nothing stored', async () => {
    await unchanged(small, async () => {
      const body = randomBytes(3 * 1024 * 1024);
      const oversize = await refusedThenResolve(
        small,
        `POST /v1/blobs?digest=${sha256(body)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${small.token}\r\n`,
        body,
      );
      assert.deepEqual(oversize, { statuses: [413, 200], reset: false });
      const anonymous = await refusedThenResolve(small, `POST /v1/blobs?digest=${sha256(body)} HTTP/1.1\r\nHost: x\r\n`, body);
      assert.deepEqual(anonymous, { statuses: [401, 200], reset: false });
    });
  });
});

/** Raw socket exchange for requests node:http refuses to form; returns what came back. */
function rawExchange(port: number, payload: string, waitMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks).toString('latin1'));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', done);
    socket.on('close', done);
    socket.write(payload);
    setTimeout(() => socket.destroy(), waitMs);
  });
}

describe('resumable uploads', () => {
  async function session(s: TestServer): Promise<string> {
    const r = await send(s, 'POST', '/v1/uploads');
    assert.equal(r.status, 201, r.body.toString());
    return r.json.id as string;
  }
  async function offsetOf(s: TestServer, id: string): Promise<number> {
    const r = await send(s, 'GET', `/v1/uploads/${id}`);
    assert.equal(r.status, 200, r.body.toString());
    return r.json.offset as number;
  }

  test('PATCH at a wrong offset: 416 with Range, Upload-Offset and details.offset; nothing appended', async () => {
    const id = await session(server);
    const early = await send(server, 'PATCH', `/v1/uploads/${id}`, { body: randomBytes(10), headers: { 'Content-Range': 'bytes 5-14/*' } });
    assertError(early, 416, 'UPLOAD_OFFSET_MISMATCH');
    assert.equal(early.json.error.details?.offset, 0);
    assert.equal(early.headers['upload-offset'], '0');
    assert.equal(await offsetOf(server, id), 0);
    const first = randomBytes(10);
    const ok = await send(server, 'PATCH', `/v1/uploads/${id}`, { body: first, headers: { 'Content-Range': 'bytes 0-9/*' } });
    assert.equal(ok.status, 202, ok.body.toString());
    assert.equal(ok.json.offset, 10);
    for (const range of ['bytes 20-29/*', 'bytes 0-9/*', 'bytes 9-18/*', 'bytes 11-20/*']) {
      const r = await send(server, 'PATCH', `/v1/uploads/${id}`, { body: randomBytes(10), headers: { 'Content-Range': range } });
      assertError(r, 416, 'UPLOAD_OFFSET_MISMATCH');
      assert.equal(r.headers['range'], 'bytes=0-9', range);
      assert.equal(r.json.error.details?.offset, 10, range);
      assert.equal(await offsetOf(server, id), 10, `offset moved after ${range}`);
    }
    assert.equal(await offsetOf(server, id), 10);
  });

  test('malformed Content-Range: 400 CONTENT_RANGE_INVALID; nothing appended', async () => {
    const id = await session(server);
    for (const range of ['bytes ten-20/*', 'bytes 5-2/*', 'bytes=0-', 'chars 0-9/*', 'bytes 0-9/abc', '0-99999999999999999']) {
      const r = await send(server, 'PATCH', `/v1/uploads/${id}`, { body: randomBytes(10), headers: { 'Content-Range': range } });
      assertError(r, 400, 'CONTENT_RANGE_INVALID');
      assert.equal(await offsetOf(server, id), 0, `offset moved after ${range}`);
    }
  });

  test('a body that disagrees with its Content-Range: 400 CONTENT_RANGE_MISMATCH and the offset does not move', async () => {
    const id = await session(server);
    const r = await send(server, 'PATCH', `/v1/uploads/${id}`, { body: randomBytes(5), headers: { 'Content-Range': 'bytes 0-9/*' } });
    assertError(r, 400, 'CONTENT_RANGE_MISMATCH');
    // A refused chunk must not have been appended: the client would otherwise resend from a stale offset.
    assert.equal(await offsetOf(server, id), 0);
  });

  test('unknown session id: 404 UPLOAD_NOT_FOUND for every method', async () => {
    await unchanged(server, async () => {
      for (const id of [randomUUID(), 'nope', '..%2F..%2Fblobs', 'x'.repeat(300)]) {
        assertError(await send(server, 'GET', `/v1/uploads/${id}`), 404, 'UPLOAD_NOT_FOUND');
        const head = await send(server, 'HEAD', `/v1/uploads/${id}`);
        assert.equal(head.status, 404);
        assertError(await send(server, 'PATCH', `/v1/uploads/${id}`, { body: randomBytes(10) }), 404, 'UPLOAD_NOT_FOUND');
        assertError(await send(server, 'PUT', `/v1/uploads/${id}?digest=${sha256('x')}`), 404, 'UPLOAD_NOT_FOUND');
        assertError(await send(server, 'DELETE', `/v1/uploads/${id}`), 404, 'UPLOAD_NOT_FOUND');
      }
    });
  });

  test('commit with a wrong digest: 400 DIGEST_MISMATCH, the session is gone, no blob', async () => {
    await unchanged(server, async () => {
      const id = await session(server);
      const data = randomBytes(50_000);
      assert.equal((await send(server, 'PATCH', `/v1/uploads/${id}`, { body: data })).status, 202);
      const wrong = sha256(randomBytes(8));
      const r = await send(server, 'PUT', `/v1/uploads/${id}?digest=${wrong}`);
      assertError(r, 400, 'DIGEST_MISMATCH');
      assertError(await send(server, 'GET', `/v1/uploads/${id}`), 404, 'UPLOAD_NOT_FOUND');
      assert.equal((await send(server, 'HEAD', `/v1/blobs/${wrong}`)).status, 404);
      assert.equal((await send(server, 'HEAD', `/v1/blobs/${sha256(data)}`)).status, 404);
      assert.deepEqual(await listDir(join(server.dataDir, 'uploads')).then((l) => l.filter((f) => f === id)), []);
      // Committing other bytes under an existing blob's digest leaves that blob intact.
      const id2 = await session(server);
      assert.equal((await send(server, 'PATCH', `/v1/uploads/${id2}`, { body: randomBytes(content.length) })).status, 202);
      assertError(await send(server, 'PUT', `/v1/uploads/${id2}?digest=${contentDigest}`), 400, 'DIGEST_MISMATCH');
      assert.ok((await send(server, 'GET', `/v1/blobs/${contentDigest}`)).body.equals(content), 'the existing blob was altered');
    });
  });

  test('commit with a malformed digest: 400 DIGEST_INVALID, and the session survives', async () => {
    const id = await session(server);
    const data = randomBytes(1000);
    assert.equal((await send(server, 'PATCH', `/v1/uploads/${id}`, { body: data })).status, 202);
    for (const digest of ['', `md5:${'a'.repeat(32)}`, `sha256:${'A'.repeat(64)}`]) {
      assertError(await send(server, 'PUT', `/v1/uploads/${id}?digest=${digest}`), 400, 'DIGEST_INVALID');
    }
    assert.equal(await offsetOf(server, id), 1000);
    const done = await send(server, 'PUT', `/v1/uploads/${id}?digest=${sha256(data)}`);
    assert.equal(done.status, 201, done.body.toString());
    const back = await send(server, 'GET', `/v1/blobs/${sha256(data)}`);
    assert.ok(back.body.equals(data));
  });
});

describe('still serving', () => {
  test('after everything above, uploads, registrations and downloads still work', async () => {
    const data = randomBytes(70_000);
    const digest = await uploadBlob(server, data);
    const r = await api(server, 'POST', `/v1/models/${MODEL}/versions`, {
      files: [goodFile(), { path: 'late.bin', size: data.length, digest }],
    });
    assert.equal(r.status, 201, r.text);
    const file = await send(server, 'GET', `/v1/models/${MODEL}@v${r.json.version}/files/late.bin`);
    assert.equal(file.status, 200);
    assert.ok(file.body.equals(data));
  });
});
