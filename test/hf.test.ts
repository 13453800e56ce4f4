// The Hugging Face Hub read API, tested over sockets against the real service, written against
// what huggingface_hub does with each response:
// - get_hf_file_metadata (the HEAD before every hf_hub_download): commit from X-Repo-Commit, etag
//   from X-Linked-Etag else ETag (quotes and W/ stripped), size from X-Linked-Size else
//   Content-Length, download location from Location else the URL asked;
// - http_get: resumes with `Range: bytes=N-` and expects a 206 (a 200 makes it start over);
// - hf_raise_for_status: picks the exception from X-Error-Code (RepoNotFound, RevisionNotFound,
//   EntryNotFound), shows X-Error-Message and the body's "error"; on EntryNotFound it reads
//   X-Repo-Commit to cache the file's absence under that commit;
// - snapshot_download: repo_info(revision) → `sha` (and `siblings[].rfilename` in older clients),
//   then list_repo_tree(recursive=True) at that commit, following `Link: <…>; rel="next"`, then
//   hf_hub_download of each file at the commit. Its URLs quote the revision with safe="" (so "/"
//   arrives as %2F), the tree sub-path with safe="", and file paths with safe="/".
// No Python client is available here, so the client's side of each exchange is reproduced below.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rm, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type TestServer } from './harness/server.js';
import { api, pathRequest, registerFiles, sha256Hex, type PathResponse } from './harness/http.js';
import { createToken } from './harness/tokens.js';

const MODEL = 'team/hf-demo';
const INVALID_CREDENTIALS = 'Invalid credentials in Authorization header';
const IMMUTABLE = 'public, max-age=31536000, immutable';

type Resp = PathResponse;

let server: TestServer;
let configDir = '';

/** A raw request through node:http: the path goes out exactly as written (no URL normalisation). */
function request(method: string, path: string, headers: Record<string, string> = {}, opts: { token?: string | null } = {}): Promise<Resp> {
  const token = opts.token === undefined ? server.token : opts.token;
  return pathRequest(server.port, method, path, {
    ...(token !== null ? { Authorization: `Bearer ${token}` } : {}),
    'Accept-Encoding': 'identity',
    ...headers,
  });
}

/** Fetches a full absolute URL (a Link header's target) the way the client follows it. */
function requestUrl(url: string, headers: Record<string, string> = {}): Promise<Resp> {
  const u = new URL(url);
  assert.equal(`${u.protocol}//${u.host}`, server.url, `link leaves the server: ${url}`);
  return request('GET', u.pathname + u.search, headers);
}

const json = (r: Resp) => JSON.parse(r.body.toString('utf8'));

/** Python's urllib.parse.quote: everything but letters, digits, "_.-~" and `safe` is %-encoded. */
function quote(text: string, safe = '/'): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(c) || safe.includes(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** What get_hf_file_metadata makes of a HEAD response. */
function fileMetadata(r: Resp, url: string) {
  const normalize = (etag: string | undefined) => (etag === undefined ? undefined : etag.replace(/^W\//, '').replace(/^"|"$/g, ''));
  const linkedEtag = r.headers['x-linked-etag'] as string | undefined;
  const linkedSize = r.headers['x-linked-size'] as string | undefined;
  const redirect = r.status >= 300 && r.status < 400;
  return {
    commit: r.headers['x-repo-commit'] as string | undefined,
    etag: normalize(linkedEtag || (r.headers['etag'] as string | undefined)),
    location: (r.headers['location'] as string | undefined) ?? url,
    size: linkedSize !== undefined ? Number(linkedSize) : redirect ? undefined : Number(r.headers['content-length']),
  };
}

/** hf_raise_for_status's view of a failure: the X-Error-Code and message it would show. */
function assertHfError(r: Resp, status: number, code: string | null, method = 'GET'): string {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
  if (code === null) assert.equal(r.headers['x-error-code'], undefined);
  else assert.equal(r.headers['x-error-code'], code);
  const message = r.headers['x-error-message'] as string;
  assert.ok(typeof message === 'string' && message.length > 0, 'X-Error-Message is missing');
  if (method === 'HEAD') {
    assert.equal(r.body.length, 0);
  } else {
    const body = json(r);
    assert.equal(typeof body.error, 'string');
    assert.ok(body.error.length > 0);
  }
  return message;
}

// A git-lfs pointer and its git blob id, computed independently of the server.
const pointer = (h: string, size: number) => `version https://git-lfs.github.com/spec/v1\noid sha256:${h}\nsize ${size}\n`;
const gitBlobId = (content: string) =>
  createHash('sha1')
    .update(`blob ${Buffer.byteLength(content)}\0${content}`)
    .digest('hex');

function parseNextLink(r: Resp): string | null {
  const link = r.headers['link'] as string | undefined;
  if (!link) return null;
  const m = /<([^>]*)>\s*;\s*rel="next"/.exec(link);
  return m ? m[1]! : null;
}

/** list_repo_tree: the first page, then every `rel="next"` link, to the end. */
async function listTree(path: string, pages: Resp[] = []): Promise<any[]> {
  let r = await request('GET', path);
  const entries: any[] = [];
  for (;;) {
    assert.equal(r.status, 200, r.body.toString('utf8'));
    pages.push(r);
    const page = json(r);
    assert.ok(Array.isArray(page));
    entries.push(...page);
    const next = parseNextLink(r);
    if (!next) return entries;
    r = await requestUrl(next);
  }
}

// ---- fixtures --------------------------------------------------------------------------------

const big = randomBytes(600_000);
const v1Files: Record<string, Buffer> = {
  'config.json': Buffer.from('{"model_type":"bert","hidden_size":8}'),
  'model.safetensors': big,
  'tokenizer/vocab.txt': Buffer.from('[PAD]\n[UNK]\nhello\n'),
  'tokenizer/special/map.json': Buffer.from('{"unk":"[UNK]"}'),
  'nested/a/b/c.bin': randomBytes(100),
  'docs/read me ü.md': Buffer.from('# read me\n'),
  'empty.txt': Buffer.alloc(0),
};
const v2Files: Record<string, Buffer> = { ...v1Files, 'config.json': Buffer.from('{"model_type":"bert","hidden_size":16}') };
const v1Dirs = ['docs', 'nested', 'nested/a', 'nested/a/b', 'tokenizer', 'tokenizer/special'];
const goneBlob = randomBytes(4096);

let digest1 = '';
let digest2 = '';
let commit1 = '';
let commit2 = '';

async function setAlias(name: string, alias: string, version: number): Promise<void> {
  const r = await api(server, 'PUT', `/v1/models/${name}/aliases/${alias}`, { version });
  assert.equal(r.status, 200, r.text);
}

before(async () => {
  // production is unprotected here so the fixtures can move it without approvals.
  configDir = await mkdtemp(join(tmpdir(), 'modelgate-hf-config-'));
  const config = join(configDir, 'config.yaml');
  await writeFile(config, 'policy:\n  aliases: {}\n');
  server = await startServer({ args: ['--config', config] });

  const v1 = await registerFiles(server, MODEL, v1Files);
  const v2 = await registerFiles(server, MODEL, v2Files);
  assert.equal(v1.version, 1);
  assert.equal(v2.version, 2);
  digest1 = v1.digest;
  digest2 = v2.digest;
  commit1 = digest1.slice('sha256:'.length, 'sha256:'.length + 40);
  commit2 = digest2.slice('sha256:'.length, 'sha256:'.length + 40);
  await setAlias(MODEL, 'production', 1);
  await setAlias(MODEL, 'staging', 2);
  const patch = await api(server, 'PATCH', `/v1/models/${MODEL}/versions/1`, {
    metadata: { framework: 'pytorch', library_name: 'transformers', pipeline_tag: 'fill-mask' },
    card: { intendedUse: 'tests', limitations: 'none known' },
  });
  assert.equal(patch.status, 200, patch.text);

  await registerFiles(server, 'solo', { 'weights.bin': randomBytes(1000) });
  await registerFiles(server, 'team/gone', { 'weights.bin': goneBlob });
  for (const name of ['v1/demo', 'healthz', 'metrics', 'api/demo', 'api/models', 'team/resolve', 'team/tree']) {
    await registerFiles(server, name, { 'config.json': `{"name":"${name}"}` });
  }
  const empty = await api(server, 'POST', '/v1/models', { name: 'team/empty' });
  assert.equal(empty.status, 201, empty.text);
});

after(async () => {
  await server?.dispose();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

// ---- resolve: metadata ---------------------------------------------------------------------------

describe('HEAD /{repo_id}/resolve/{revision}/{path}: what get_hf_file_metadata reads', () => {
  test('a 200 without redirect carries commit, etag, linked etag and size', async () => {
    const path = `/${MODEL}/resolve/production/config.json`;
    const r = await request('HEAD', path);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    const content = v1Files['config.json']!;
    assert.equal(r.headers['x-repo-commit'], commit1);
    assert.equal(r.headers['etag'], `"${sha256Hex(content)}"`);
    assert.equal(r.headers['x-linked-etag'], `"${sha256Hex(content)}"`);
    assert.equal(r.headers['x-linked-size'], String(content.length));
    assert.equal(r.headers['content-length'], String(content.length));
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.headers['location'], undefined);
    assert.equal(r.headers['x-error-code'], undefined);
    assert.equal(r.headers['cache-control'], 'no-cache');

    const meta = fileMetadata(r, server.url + path);
    assert.match(meta.commit!, /^[0-9a-f]{40}$/);
    assert.match(meta.etag!, /^[0-9a-f]{64}$/, 'the client recognises a sha256 etag');
    assert.equal(meta.etag, sha256Hex(content));
    assert.equal(meta.size, content.length);
    assert.equal(meta.location, server.url + path, 'the client downloads from the URL it asked');
  });

  test('X-Repo-Commit is the first 40 hex of the version digest', async () => {
    const resolved = await api(server, 'GET', `/v1/resolve/${MODEL}@production`);
    assert.equal(resolved.status, 200);
    assert.equal(resolved.json.digest, digest1);
    assert.equal(commit1, resolved.json.digest.slice(7, 47));
    assert.notEqual(commit1, commit2);
  });

  test('a large file: size from the index, HEAD sends no body', async () => {
    const r = await request('HEAD', `/${MODEL}/resolve/v1/model.safetensors`);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['content-length'], String(big.length));
    assert.equal(r.headers['x-linked-size'], String(big.length));
    assert.equal(r.headers['x-linked-etag'], `"${sha256Hex(big)}"`);
  });

  const forms: [string, () => string, string][] = [
    ['alias', () => 'production', 'no-cache'],
    ['v<N>', () => 'v1', IMMUTABLE],
    ['40-hex commit id', () => commit1, IMMUTABLE],
    ['URL-encoded alias', () => '%70roduction', 'no-cache'],
    ['refs/heads/<alias> with %2F', () => 'refs%2Fheads%2Fproduction', 'no-cache'],
    ['refs/tags/v<N> with %2F', () => 'refs%2Ftags%2Fv1', IMMUTABLE],
    ['version digest', () => encodeURIComponent(digest1), IMMUTABLE],
  ];
  for (const [label, revision, cacheControl] of forms) {
    test(`revision as ${label}: the same commit, etag and bytes`, async () => {
      const path = `/${MODEL}/resolve/${revision()}/config.json`;
      const head = await request('HEAD', path);
      assert.equal(head.status, 200, `HEAD ${path}`);
      assert.equal(head.headers['x-repo-commit'], commit1);
      assert.equal(head.headers['x-linked-etag'], `"${sha256Hex(v1Files['config.json']!)}"`);
      assert.equal(head.headers['cache-control'], cacheControl);
      const get = await request('GET', path);
      assert.equal(get.status, 200);
      assert.ok(get.body.equals(v1Files['config.json']!));
      assert.equal(get.headers['x-repo-commit'], commit1);
      assert.equal(get.headers['etag'], head.headers['etag']);
      assert.equal(get.headers['content-length'], String(v1Files['config.json']!.length));
    });
  }

  test('main is the newest version unless the model has an alias "main"', async () => {
    const path = `/${MODEL}/resolve/main/config.json`;
    let r = await request('GET', path);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-repo-commit'], commit2);
    assert.ok(r.body.equals(v2Files['config.json']!));
    assert.equal(r.headers['cache-control'], 'no-cache');

    await setAlias(MODEL, 'main', 1);
    try {
      r = await request('GET', path);
      assert.equal(r.headers['x-repo-commit'], commit1);
      assert.ok(r.body.equals(v1Files['config.json']!));
    } finally {
      const del = await api(server, 'DELETE', `/v1/models/${MODEL}/aliases/main`);
      assert.equal(del.status, 200, del.text);
    }
    r = await request('HEAD', path);
    assert.equal(r.headers['x-repo-commit'], commit2);
  });

  test('a commit id keeps serving its version after the alias moves', async () => {
    await setAlias(MODEL, 'production', 2);
    try {
      const byAlias = await request('GET', `/${MODEL}/resolve/production/config.json`);
      assert.equal(byAlias.headers['x-repo-commit'], commit2);
      assert.ok(byAlias.body.equals(v2Files['config.json']!));
      const byCommit = await request('GET', `/${MODEL}/resolve/${commit1}/config.json`);
      assert.equal(byCommit.headers['x-repo-commit'], commit1);
      assert.ok(byCommit.body.equals(v1Files['config.json']!));
    } finally {
      await setAlias(MODEL, 'production', 1);
    }
  });

  test('file paths are percent-decoded (the client quotes them, keeping "/")', async () => {
    const name = 'docs/read me ü.md';
    const r = await request('GET', `/${MODEL}/resolve/v1/${quote(name)}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(v1Files[name]!));
  });

  test('an empty file: 200 with Content-Length 0', async () => {
    const head = await request('HEAD', `/${MODEL}/resolve/v1/empty.txt`);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '0');
    assert.equal(head.headers['x-linked-size'], '0');
    assert.equal(head.headers['x-linked-etag'], `"${sha256Hex('')}"`);
    const get = await request('GET', `/${MODEL}/resolve/v1/empty.txt`);
    assert.equal(get.status, 200);
    assert.equal(get.body.length, 0);
  });

  test('If-None-Match with the etag: 304', async () => {
    const r = await request('GET', `/${MODEL}/resolve/v1/config.json`, { 'If-None-Match': `"${sha256Hex(v1Files['config.json']!)}"` });
    assert.equal(r.status, 304);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['x-repo-commit'], commit1);
  });
});

// ---- resolve: ranges ------------------------------------------------------------------------------

describe('GET /{repo_id}/resolve/…: ranges as clients send them', () => {
  const url = () => `/${MODEL}/resolve/${commit1}/model.safetensors`;
  const size = big.length;

  function assertPartial(r: Resp, start: number, end: number): void {
    assert.equal(r.status, 206, `expected 206, got ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
    assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${size}`);
    assert.equal(r.headers['content-length'], String(end - start + 1));
    assert.ok(r.body.equals(big.subarray(start, end + 1)), 'partial body differs from the file');
    assert.equal(r.headers['x-linked-size'], String(size), 'X-Linked-Size is the whole file');
    assert.equal(r.headers['x-repo-commit'], commit1);
    assert.equal(r.headers['accept-ranges'], 'bytes');
  }

  test('no Range: 200, the whole file byte for byte', async () => {
    const r = await request('GET', url());
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(size));
    assert.equal(r.headers['content-range'], undefined);
    assert.ok(r.body.equals(big));
    assert.equal(r.headers['cache-control'], IMMUTABLE);
  });

  test('bytes=N-: resume from N', async () => {
    assertPartial(await request('GET', url(), { Range: 'bytes=123457-' }), 123457, size - 1);
  });

  test('bytes=0-0: a one-byte probe', async () => {
    assertPartial(await request('GET', url(), { Range: 'bytes=0-0' }), 0, 0);
  });

  test('an end one past EOF is clamped', async () => {
    assertPartial(await request('GET', url(), { Range: `bytes=${size - 10}-${size}` }), size - 10, size - 1);
    assertPartial(await request('GET', url(), { Range: `bytes=0-${size}` }), 0, size - 1);
    assertPartial(await request('GET', url(), { Range: 'bytes=5-99999999999' }), 5, size - 1);
  });

  test('HEAD with a range: 206 headers, no body', async () => {
    const r = await request('HEAD', url(), { Range: 'bytes=100-' });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 100-${size - 1}/${size}`);
    assert.equal(r.headers['content-length'], String(size - 100));
    assert.equal(r.body.length, 0);
  });

  test('an interrupted download resumed with bytes=N- reassembles the file', async () => {
    const first = await request('GET', url(), { Range: 'bytes=0-299999' });
    assertPartial(first, 0, 299_999);
    const rest = await request('GET', url(), { Range: `bytes=${first.body.length}-` });
    assertPartial(rest, 300_000, size - 1);
    const whole = Buffer.concat([first.body, rest.body]);
    assert.equal(sha256Hex(whole), sha256Hex(big));
  });

  test('If-Range: the current etag keeps the range, another sends the whole file', async () => {
    const etag = `"${sha256Hex(big)}"`;
    assertPartial(await request('GET', url(), { Range: 'bytes=10-19', 'If-Range': etag }), 10, 19);
    const full = await request('GET', url(), { Range: 'bytes=10-19', 'If-Range': '"0000"' });
    assert.equal(full.status, 200);
    assert.ok(full.body.equals(big));
  });

  test('a start past the end: 416 with Content-Range bytes */size, in the Hub error shape', async () => {
    const r = await request('GET', url(), { Range: `bytes=${size}-` });
    assertHfError(r, 416, null);
    assert.equal(r.headers['content-range'], `bytes */${size}`);
  });
});

// ---- HEAD never touches storage ---------------------------------------------------------------------

describe('HEAD is answered from the index', () => {
  test('with the blob file deleted from disk, HEAD still answers 200 and GET fails', async () => {
    const h = sha256Hex(goneBlob);
    await rm(join(server.dataDir, 'blobs', 'sha256', h.slice(0, 2), h));
    const resolved = await api(server, 'GET', '/v1/resolve/team/gone@v1');
    const commit = (resolved.json.digest as string).slice(7, 47);
    for (const revision of ['main', 'v1', commit]) {
      const head = await request('HEAD', `/team/gone/resolve/${revision}/weights.bin`);
      assert.equal(head.status, 200, `HEAD at ${revision}`);
      assert.equal(head.headers['content-length'], String(goneBlob.length));
      assert.equal(head.headers['x-linked-size'], String(goneBlob.length));
      assert.equal(head.headers['x-linked-etag'], `"${h}"`);
      assert.equal(head.headers['etag'], `"${h}"`);
      assert.equal(head.headers['x-repo-commit'], commit);
      const ranged = await request('HEAD', `/team/gone/resolve/${revision}/weights.bin`, { Range: 'bytes=0-0' });
      assert.equal(ranged.status, 206);
    }
    const get = await request('GET', '/team/gone/resolve/main/weights.bin');
    assertHfError(get, 404, null);
    assert.match(json(get).error, /missing from storage/);
  });
});

// ---- errors -----------------------------------------------------------------------------------------

describe('errors carry X-Error-Code and X-Error-Message', () => {
  for (const method of ['GET', 'HEAD']) {
    test(`${method}: unknown repo → 404 RepoNotFound`, async () => {
      for (const path of ['/team/nope/resolve/main/config.json', '/nope/resolve/v1/config.json', '/Team/Bad/resolve/main/config.json']) {
        const r = await request(method, path);
        assertHfError(r, 404, 'RepoNotFound', method);
        assert.equal(r.headers['x-repo-commit'], undefined);
      }
    });

    test(`${method}: unknown revision → 404 RevisionNotFound`, async () => {
      for (const revision of [
        'nope',
        'v99',
        '0'.repeat(40),
        'Bad%21Rev',
        'refs%2Fheads%2Fnope',
        encodeURIComponent(`sha256:${'0'.repeat(64)}`),
      ]) {
        const r = await request(method, `/${MODEL}/resolve/${revision}/config.json`);
        assertHfError(r, 404, 'RevisionNotFound', method);
      }
    });

    test(`${method}: missing file → 404 EntryNotFound with X-Repo-Commit`, async () => {
      let r = await request(method, `/${MODEL}/resolve/production/model.safetensors.index.json`);
      assertHfError(r, 404, 'EntryNotFound', method);
      assert.equal(r.headers['x-repo-commit'], commit1, 'the client caches the absence under this commit');
      r = await request(method, `/${MODEL}/resolve/main/nested/a`);
      assertHfError(r, 404, 'EntryNotFound', method);
      assert.equal(r.headers['x-repo-commit'], commit2);
      r = await request(method, `/${MODEL}/resolve/v1/tokenizer//vocab.txt`);
      assertHfError(r, 404, 'EntryNotFound', method);
      assert.equal(r.headers['x-repo-commit'], commit1);
    });
  }

  test('the X-Error-Message names what is missing', async () => {
    const r = await request('HEAD', `/${MODEL}/resolve/production/missing.bin`);
    assert.match(r.headers['x-error-message'] as string, /missing\.bin/);
    const u = await request('HEAD', `/${MODEL}/resolve/nope/config.json`);
    assert.match(u.headers['x-error-message'] as string, /nope/);
  });

  test('other methods: 405 with Allow', async () => {
    const r = await request('POST', `/${MODEL}/resolve/main/config.json`);
    assertHfError(r, 405, null);
    assert.equal(r.headers['allow'], 'GET, HEAD');
  });

  test('a resolve URL without a file path is no route', async () => {
    const r = await request('GET', `/${MODEL}/resolve/main`);
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-error-code'], undefined);
  });
});

// ---- auth ---------------------------------------------------------------------------------------------

describe('auth: Authorization: Bearer <modelgate token>', () => {
  const file = () => `/${MODEL}/resolve/production/config.json`;

  test('no token: 401 RepoNotFound (as the Hub answers for a private repo), on files and the API', async () => {
    for (const [method, path] of [
      ['HEAD', file()],
      ['GET', file()],
      ['GET', `/api/models/${MODEL}`],
      ['GET', `/api/models/${MODEL}/tree/main?recursive=true`],
    ] as const) {
      const r = await request(method, path, {}, { token: null });
      assertHfError(r, 401, 'RepoNotFound', method);
      assert.match(String(r.headers['www-authenticate']), /^Bearer /);
      assert.equal(r.headers['x-repo-commit'], undefined);
    }
  });

  test('an invalid, revoked or expired token: 401 with the Hub\'s "Invalid credentials" message', async () => {
    const revoked = await createToken(server, 'hf-revoked', 'reader');
    const del = await api(server, 'DELETE', `/v1/tokens/${revoked.id}`);
    assert.equal(del.status, 200, del.text);
    const expired = await createToken(server, 'hf-expired', 'reader', '*', { ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    for (const token of ['mgt_not-a-token', revoked.token, expired.token]) {
      for (const method of ['HEAD', 'GET']) {
        const r = await request(method, file(), {}, { token });
        const message = assertHfError(r, 401, null, method);
        assert.equal(message, INVALID_CREDENTIALS, 'the client keys on this exact text');
      }
    }
    const basic = await request('GET', file(), { Authorization: 'Basic dXNlcjpwYXNz' }, { token: null });
    assert.equal(assertHfError(basic, 401, null), INVALID_CREDENTIALS);
  });

  test('a reader token whose scope covers the model reads it', async () => {
    const reader = await createToken(server, 'hf-team-reader', 'reader', 'team/*');
    const head = await request('HEAD', file(), {}, { token: reader.token });
    assert.equal(head.status, 200);
    assert.equal(head.headers['x-repo-commit'], commit1);
    const info = await request('GET', `/api/models/${MODEL}/revision/production`, {}, { token: reader.token });
    assert.equal(info.status, 200);
    assert.equal(json(info).sha, commit1);
  });

  test('out of scope: 403 RepoNotFound, whether or not the model exists, and audited', async () => {
    const reader = await createToken(server, 'hf-scoped', 'reader', 'team/*');
    for (const [method, path] of [
      ['HEAD', '/solo/resolve/main/weights.bin'],
      ['GET', '/solo/resolve/main/weights.bin'],
      ['GET', '/other/missing/resolve/main/weights.bin'],
      ['GET', '/api/models/solo'],
      ['GET', '/api/models/solo/tree/main'],
    ] as const) {
      const r = await request(method, path, {}, { token: reader.token });
      const message = assertHfError(r, 403, 'RepoNotFound', method);
      assert.match(message, /scoped to "team\/\*"/);
    }
    // In scope but absent: plainly not found.
    assertHfError(await request('GET', '/team/missing/resolve/main/x.bin', {}, { token: reader.token }), 404, 'RepoNotFound');

    const audit = await api(server, 'GET', `/v1/audit?action=denied&actor=${reader.id}`);
    assert.equal(audit.status, 200, audit.text);
    const denied = audit.json.entries as { action: string; target: string; details: { status: number } }[];
    assert.ok(
      denied.some((e) => e.action === 'denied.hf.resolve' && e.target === 'solo' && e.details.status === 403),
      JSON.stringify(denied),
    );
    assert.ok(
      denied.some((e) => e.action === 'denied.hf.tree' && e.target === 'solo'),
      JSON.stringify(denied),
    );
  });
});

// ---- model info ------------------------------------------------------------------------------------

describe('GET /api/models/{repo_id}[/revision/{revision}]', () => {
  function assertSiblings(info: any, files: Record<string, Buffer>): void {
    const siblings = info.siblings as any[];
    assert.deepEqual(siblings.map((s) => s.rfilename).sort(), Object.keys(files).sort());
    for (const s of siblings) {
      const content = files[s.rfilename]!;
      const h = sha256Hex(content);
      assert.equal(s.size, content.length);
      assert.deepEqual(s.lfs, { sha256: h, size: content.length, pointerSize: Buffer.byteLength(pointer(h, content.length)) });
      assert.equal(s.blobId, gitBlobId(pointer(h, content.length)), 'blobId is the git id of the LFS pointer');
    }
  }

  test('the repo: id, sha of main (the newest version), siblings', async () => {
    const r = await request('GET', `/api/models/${MODEL}`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /application\/json/);
    const info = json(r);
    assert.equal(info.id, MODEL);
    assert.equal(info.modelId, MODEL);
    assert.equal(info.sha, commit2);
    assert.equal(info.private, false);
    assert.equal(info.author, 'team');
    assert.ok(Array.isArray(info.tags));
    assert.ok(!Number.isNaN(Date.parse(info.lastModified)));
    assertSiblings(info, v2Files);
    assert.equal(info.modelgate.version, 2);
    assert.equal(info.modelgate.digest, digest2);
  });

  for (const [label, revision] of [
    ['an alias', () => 'production'],
    ['v<N>', () => 'v1'],
    ['a commit id', () => commit1],
    ['refs/heads/<alias>, %2F-encoded', () => 'refs%2Fheads%2Fproduction'],
  ] as const) {
    test(`revision as ${label}: sha and siblings of that version`, async () => {
      const r = await request('GET', `/api/models/${MODEL}/revision/${revision()}`);
      assert.equal(r.status, 200, r.body.toString('utf8'));
      const info = json(r);
      assert.equal(info.sha, commit1);
      assert.equal(r.headers['x-repo-commit'], commit1);
      assertSiblings(info, v1Files);
      assert.equal(info.library_name, 'transformers');
      assert.equal(info.pipeline_tag, 'fill-mask');
      assert.deepEqual(info.cardData, { intendedUse: 'tests', limitations: 'none known' });
    });
  }

  test('a single-segment repo id', async () => {
    const info = json(await request('GET', '/api/models/solo/revision/main'));
    assert.equal(info.id, 'solo');
    assert.deepEqual(
      info.siblings.map((s: any) => s.rfilename),
      ['weights.bin'],
    );
  });

  test('a model with no versions is an empty repo; its revisions do not exist', async () => {
    const r = await request('GET', '/api/models/team/empty');
    assert.equal(r.status, 200);
    const info = json(r);
    assert.deepEqual(info.siblings, []);
    assert.equal(info.sha, undefined);
    assertHfError(await request('GET', '/api/models/team/empty/revision/main'), 404, 'RevisionNotFound');
    assertHfError(await request('GET', '/api/models/team/empty/tree/main'), 404, 'RevisionNotFound');
  });

  test('errors: RepoNotFound, RevisionNotFound, unknown sub-resource', async () => {
    assertHfError(await request('GET', '/api/models/team/nope'), 404, 'RepoNotFound');
    assertHfError(await request('GET', '/api/models/team/nope/revision/main'), 404, 'RepoNotFound');
    assertHfError(await request('GET', `/api/models/${MODEL}/revision/nope`), 404, 'RevisionNotFound');
    assertHfError(await request('GET', `/api/models/${MODEL}/revision/${'f'.repeat(40)}`), 404, 'RevisionNotFound');
    const r = await request('GET', `/api/models/${MODEL}/discussions/1`);
    assertHfError(r, 404, null);
  });
});

// ---- tree --------------------------------------------------------------------------------------------

describe('GET /api/models/{repo_id}/tree/{revision}[/{path}]', () => {
  const allPaths = [...Object.keys(v1Files), ...v1Dirs].sort();

  function checkEntries(entries: any[], files: Record<string, Buffer>): void {
    for (const e of entries) {
      if (e.type === 'file') {
        const content = files[e.path]!;
        assert.ok(content, `unexpected file ${e.path}`);
        const h = sha256Hex(content);
        assert.equal(e.size, content.length);
        assert.equal(e.oid, gitBlobId(pointer(h, content.length)));
        assert.deepEqual(e.lfs, { oid: h, size: content.length, pointerSize: Buffer.byteLength(pointer(h, content.length)) });
      } else {
        assert.equal(e.type, 'directory');
        assert.match(e.oid, /^[0-9a-f]{40}$/);
        assert.ok(v1Dirs.includes(e.path), `unexpected directory ${e.path}`);
      }
    }
  }

  test('recursive, two per page: Link rel="next" followed to the end lists every file and directory once', async () => {
    const pages: Resp[] = [];
    const entries = await listTree(`/api/models/${MODEL}/tree/production?recursive=true&limit=2`, pages);
    assert.equal(pages.length, Math.ceil(allPaths.length / 2));
    for (const page of pages.slice(0, -1)) {
      const next = parseNextLink(page)!;
      assert.ok(
        next.startsWith(`${server.url}/api/models/${MODEL}/tree/${commit1}?`),
        `next link ${next} is absolute and pinned to the commit`,
      );
      assert.equal(json(page).length, 2);
    }
    assert.equal(parseNextLink(pages.at(-1)!), null, 'the last page has no next link');
    assert.deepEqual(entries.map((e) => e.path).sort(), allPaths);
    assert.equal(new Set(entries.map((e) => `${e.type}:${e.path}`)).size, entries.length, 'no entry twice');
    checkEntries(entries, v1Files);
  });

  test('recursive without a limit: one page, the same listing', async () => {
    const pages: Resp[] = [];
    const entries = await listTree(`/api/models/${MODEL}/tree/${commit1}?recursive=True`, pages);
    assert.equal(pages.length, 1);
    assert.deepEqual(entries.map((e) => e.path).sort(), allPaths);
    assert.equal(pages[0]!.headers['x-repo-commit'], commit1);
  });

  test('a listing that started on an alias stays on that version when the alias moves', async () => {
    const first = await request('GET', `/api/models/${MODEL}/tree/production?recursive=true&limit=3`);
    assert.equal(first.status, 200);
    await setAlias(MODEL, 'production', 2);
    try {
      const entries = [...json(first)];
      let next = parseNextLink(first);
      while (next) {
        const r = await requestUrl(next);
        entries.push(...json(r));
        next = parseNextLink(r);
      }
      const config = entries.find((e) => e.path === 'config.json');
      assert.equal(config.lfs.oid, sha256Hex(v1Files['config.json']!));
      assert.deepEqual(entries.map((e) => e.path).sort(), allPaths);
    } finally {
      await setAlias(MODEL, 'production', 1);
    }
  });

  test('non-recursive root: files at the root and the top directories', async () => {
    const entries = await listTree(`/api/models/${MODEL}/tree/v1`);
    assert.deepEqual(entries.map((e) => `${e.type}:${e.path}`).sort(), [
      'directory:docs',
      'directory:nested',
      'directory:tokenizer',
      'file:config.json',
      'file:empty.txt',
      'file:model.safetensors',
    ]);
    checkEntries(entries, v1Files);
    const paged = await listTree(`/api/models/${MODEL}/tree/v1?limit=1`);
    assert.deepEqual(paged, entries, 'one per page gives the same entries in the same order');
  });

  test('a sub-path, non-recursive and recursive, with "/" sent as %2F or as is', async () => {
    const tok = await listTree(`/api/models/${MODEL}/tree/v1/tokenizer`);
    assert.deepEqual(tok.map((e) => `${e.type}:${e.path}`).sort(), ['directory:tokenizer/special', 'file:tokenizer/vocab.txt']);

    const nested = await listTree(`/api/models/${MODEL}/tree/v1/nested?recursive=true`);
    assert.deepEqual(nested.map((e) => e.path).sort(), ['nested/a', 'nested/a/b', 'nested/a/b/c.bin']);
    const pages: Resp[] = [];
    const paged = await listTree(`/api/models/${MODEL}/tree/v1/nested?recursive=true&limit=1`, pages);
    assert.deepEqual(paged, nested);
    assert.equal(pages.length, 3);
    assert.ok(parseNextLink(pages[0]!)!.includes(`/tree/${commit1}/nested?`));

    for (const sub of [quote('nested/a', ''), 'nested/a']) {
      const deep = await listTree(`/api/models/${MODEL}/tree/v1/${sub}?recursive=true`);
      assert.deepEqual(deep.map((e) => e.path).sort(), ['nested/a/b', 'nested/a/b/c.bin']);
    }
    const docs = await listTree(`/api/models/${MODEL}/tree/v1/docs`);
    assert.deepEqual(
      docs.map((e) => e.path),
      ['docs/read me ü.md'],
    );
  });

  test('a missing or non-directory sub-path: 404 EntryNotFound with X-Repo-Commit', async () => {
    for (const sub of ['nope', 'config.json', 'nested/a/b/c.bin']) {
      const r = await request('GET', `/api/models/${MODEL}/tree/production/${quote(sub, '')}`);
      assertHfError(r, 404, 'EntryNotFound');
      assert.equal(r.headers['x-repo-commit'], commit1);
    }
  });

  test('directory ids change only when their contents do; file ids when the file does', async () => {
    const root1 = await listTree(`/api/models/${MODEL}/tree/v1`);
    const root2 = await listTree(`/api/models/${MODEL}/tree/v2`);
    const oid = (entries: any[], path: string) => entries.find((e) => e.path === path).oid;
    assert.equal(oid(root1, 'tokenizer'), oid(root2, 'tokenizer'));
    assert.equal(oid(root1, 'nested'), oid(root2, 'nested'));
    assert.notEqual(oid(root1, 'config.json'), oid(root2, 'config.json'));
    assert.notEqual(oid(root1, 'tokenizer'), oid(root1, 'nested'));
  });

  test('expand=true adds lastCommit', async () => {
    const entries = await listTree(`/api/models/${MODEL}/tree/v1?expand=true`);
    for (const e of entries) {
      assert.equal(e.lastCommit.id, commit1);
      assert.equal(typeof e.lastCommit.title, 'string');
      assert.ok(!Number.isNaN(Date.parse(e.lastCommit.date)));
    }
  });

  test('the next link follows the address the client used (reverse proxy headers)', async () => {
    const r = await request('GET', `/api/models/${MODEL}/tree/v1?recursive=true&limit=1`, {
      'X-Forwarded-Host': 'models.example.com',
      'X-Forwarded-Proto': 'https',
    });
    assert.equal(r.status, 200);
    assert.match(
      parseNextLink(r)!,
      /^https:\/\/models\.example\.com\/api\/models\/team\/hf-demo\/tree\/[0-9a-f]{40}\?recursive=true&limit=1&cursor=/,
    );
  });

  test('bad limit or cursor: 400; unknown revision: RevisionNotFound', async () => {
    assertHfError(await request('GET', `/api/models/${MODEL}/tree/v1?limit=0`), 400, null);
    assertHfError(await request('GET', `/api/models/${MODEL}/tree/v1?cursor=%25%25`), 400, null);
    assertHfError(await request('GET', `/api/models/${MODEL}/tree/v9`), 404, 'RevisionNotFound');
  });
});

// ---- the client's flows end to end ---------------------------------------------------------------------

describe('snapshot_download, as huggingface_hub runs it', () => {
  /** hf_hub_download of one file at a commit: HEAD for metadata, then GET (resuming once). */
  async function download(repo: string, commit: string, path: string): Promise<Buffer> {
    const url = `/${repo}/resolve/${commit}/${quote(path)}`;
    const head = await request('HEAD', url);
    assert.equal(head.status, 200, `HEAD ${url}`);
    const meta = fileMetadata(head, server.url + url);
    assert.equal(meta.commit, commit);
    assert.equal(meta.location, server.url + url);
    // Interrupted after half the bytes, then resumed with bytes=N-.
    const half = Math.floor(meta.size! / 2);
    const parts: Buffer[] = [];
    if (half > 0) {
      const first = await request('GET', url, { Range: `bytes=0-${half - 1}` });
      assert.equal(first.status, 206);
      parts.push(first.body);
      const rest = await request('GET', url, { Range: `bytes=${half}-` });
      assert.equal(rest.status, 206, 'a resumed download must get a 206, or the client starts over');
      parts.push(rest.body);
    } else {
      const all = await request('GET', url);
      assert.equal(all.status, 200);
      parts.push(all.body);
    }
    const data = Buffer.concat(parts);
    assert.equal(data.length, meta.size, 'consistency check: size');
    assert.equal(sha256Hex(data), meta.etag, 'the etag is the sha256 of the bytes');
    return data;
  }

  test('older clients: repo_info(revision).siblings, then each file at the sha', async () => {
    const info = json(await request('GET', `/api/models/${MODEL}/revision/${quote('production', '')}`));
    assert.equal(info.sha, commit1);
    for (const s of info.siblings) {
      const data = await download(MODEL, info.sha, s.rfilename);
      assert.ok(data.equals(v1Files[s.rfilename]!), s.rfilename);
    }
  });

  test('newer clients: repo_info(revision).sha, then list_repo_tree(recursive) at the sha, then each file', async () => {
    const info = json(await request('GET', `/api/models/${MODEL}/revision/main`));
    assert.equal(info.sha, commit2);
    const entries = await listTree(`/api/models/${MODEL}/tree/${info.sha}?recursive=true&expand=false&limit=3`);
    const files = entries.filter((e) => e.type === 'file');
    assert.deepEqual(files.map((f) => f.path).sort(), Object.keys(v2Files).sort());
    for (const f of files) {
      const data = await download(MODEL, info.sha, f.path);
      assert.ok(data.equals(v2Files[f.path]!), f.path);
      assert.equal(sha256Hex(data), f.lfs.oid, 'verify_repo_checksums compares sha256 for LFS entries');
    }
  });
});

// ---- route conflicts ---------------------------------------------------------------------------------

describe('repo ids that look like modelgate routes', () => {
  for (const name of ['v1/demo', 'healthz', 'metrics', 'api/demo', 'api/models', 'team/resolve', 'team/tree']) {
    test(`model "${name}" is served by the Hub routes`, async () => {
      const r = await request('GET', `/${name}/resolve/main/config.json`);
      assert.equal(r.status, 200, `${name}: ${r.body.toString('utf8')}`);
      assert.equal(r.body.toString('utf8'), `{"name":"${name}"}`);
      assert.match(r.headers['x-repo-commit'] as string, /^[0-9a-f]{40}$/);
      const info = await request('GET', `/api/models/${name}`);
      assert.equal(info.status, 200);
      assert.equal(json(info).id, name);
      const tree = await request('GET', `/api/models/${name}/tree/main`);
      assert.equal(tree.status, 200);
      assert.deepEqual(
        json(tree).map((e: any) => e.path),
        ['config.json'],
      );
    });
  }

  test("modelgate's own routes still win", async () => {
    const health = await request('GET', '/healthz', {}, { token: null });
    assert.equal(health.status, 200);
    assert.deepEqual(json(health), { status: 'ok' });
    const metrics = await request('GET', '/metrics', {}, { token: null });
    assert.equal(metrics.status, 200);
    assert.match(metrics.body.toString('utf8'), /modelgate_http_requests_total\{[^}]*route="hf\.resolve"/);
    const resolved = await api(server, 'GET', `/v1/resolve/${MODEL}@production`);
    assert.equal(resolved.status, 200);
    assert.equal(resolved.json.version, 1);
    const model = await api(server, 'GET', '/v1/models/v1/demo');
    assert.equal(model.status, 200);
    assert.equal(model.json.name, 'v1/demo');
    const file = await request('GET', `/v1/models/${MODEL}@v1/files/config.json`);
    assert.equal(file.status, 200);
    assert.ok(file.body.equals(v1Files['config.json']!));
    const missing = await request('GET', '/no/such/route/here');
    assert.equal(missing.status, 404);
    assert.equal(json(missing).error.code, 'ROUTE_NOT_FOUND');
  });
});
