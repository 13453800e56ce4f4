// Point in time (issue #13), through the real service and CLI: resolve, show and pull with --at
// (?at= on the API) answer from the histories, the record as it was then included; ?at= on a route
// that does not answer from history is refused with 400, never ignored.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseJson, runCli } from './harness/cli.js';
import { api, uploadBlob, waitFor } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

const name = 'pit/model';
const card = { intendedUse: 'score claims', limitations: 'EU data only' };
const edited = { intendedUse: 'score claims', limitations: 'EU data only; not for minors' };

let server: TestServer;
let dir: string;
let writer: string;
let approver: string;
/** Before the model existed; v1 in production with its first card; v1 edited; now (v2 in production). */
const times: { before: string; first: string; edited: string } = { before: '', first: '', edited: '' };

/** A moment strictly after everything so far, so the next change lands after it. */
async function mark(): Promise<string> {
  const t = new Date().toISOString();
  await waitFor(() => Date.now() > Date.parse(t) + 2, 5000, 'the clock to move on');
  return t;
}

before(async () => {
  server = await startServer();
  dir = await mkdtemp(join(tmpdir(), 'modelgate-pit-'));
  writer = (await createToken(server, 'pit-writer', 'writer')).token;
  approver = (await createToken(server, 'pit-approver', 'approver')).token;
  times.before = await mark();
  for (const content of ['pit v1', 'pit v2']) {
    const digest = await uploadBlob(server, Buffer.from(content));
    const res = await as(server, writer, 'POST', `/v1/models/${name}/versions`, {
      files: [{ path: 'model.bin', size: Buffer.byteLength(content), digest }],
      card,
    });
    assert.equal(res.status, 201);
  }
  for (const v of [1, 2]) {
    assert.equal((await as(server, approver, 'POST', `/v1/models/${name}/versions/${v}/approvals`, { decision: 'approve' })).status, 201);
    await stage(server, writer, name, v, 'canary'); // the default promotion path
  }
  assert.equal((await as(server, approver, 'PUT', `/v1/models/${name}/aliases/production`, { version: 1 })).status, 200);
  times.first = await mark();
  assert.equal((await as(server, writer, 'PATCH', `/v1/models/${name}/versions/1`, { card: edited })).status, 200);
  times.edited = await mark();
  assert.equal((await as(server, approver, 'PUT', `/v1/models/${name}/aliases/production`, { version: 2 })).status, 200);
});
after(async () => {
  await server.dispose();
  await rm(dir, { recursive: true, force: true });
});

const at = (t: string) => `at=${encodeURIComponent(t)}`;

describe('the API answers from history', () => {
  test('resolve ?at=: the version the alias pointed at then, with the record as it was', async () => {
    const first = await api(server, 'GET', `/v1/resolve/${name}@production?${at(times.first)}`);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.version, 1);
    const afterEdit = await api(server, 'GET', `/v1/resolve/${name}@production?${at(times.edited)}`);
    assert.equal(afterEdit.json.version, 1);
    assert.equal(afterEdit.json.seq, first.json.seq, 'the same deployment of v1');
    // The record as it was then, the same as show ?at= gives: the first card before the edit, the
    // edited card (and its voided approval) after it.
    const shownFirst = (await api(server, 'GET', `/v1/models/${name}/versions/1?${at(times.first)}`)).json;
    assert.equal(first.json.at, times.first);
    assert.deepEqual(first.json.record, {
      status: 'approved',
      recordDigest: shownFirst.recordDigest,
      card,
      metrics: shownFirst.metrics,
      lineage: shownFirst.lineage,
      metadata: shownFirst.metadata,
    });
    assert.deepEqual(afterEdit.json.record.card, edited);
    assert.equal(afterEdit.json.record.status, 'registered');
    assert.notEqual(afterEdit.json.record.recordDigest, first.json.record.recordDigest);
    const bySelf = await api(server, 'GET', `/v1/resolve/${name}@v1?${at(times.first)}`);
    assert.deepEqual(bySelf.json.record, first.json.record, 'a version reference answers with the record then too');
    assert.equal((await api(server, 'GET', `/v1/resolve/${name}@production`)).json.record, undefined, 'only ?at= answers carry it');
    assert.equal((await api(server, 'GET', `/v1/resolve/${name}@production`)).json.version, 2);
    const none = await api(server, 'GET', `/v1/resolve/${name}@production?${at(times.before)}`);
    assert.equal(none.status, 404);
    const bad = await api(server, 'GET', `/v1/resolve/${name}@production?at=yesterday`);
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'TIME_INVALID');
  });

  test('show ?at=: the record and status then (the edit voided the approval afterwards)', async () => {
    const then = await api(server, 'GET', `/v1/models/${name}/versions/1?${at(times.first)}`);
    assert.equal(then.status, 200);
    assert.deepEqual(then.json.card, card);
    assert.equal(then.json.status, 'approved');
    assert.equal(then.json.at, times.first);
    const later = await api(server, 'GET', `/v1/models/${name}/versions/1?${at(times.edited)}`);
    assert.deepEqual(later.json.card, edited);
    assert.equal(later.json.status, 'registered');
    assert.equal(later.json.recordDigest, (await api(server, 'GET', `/v1/models/${name}/versions/1`)).json.recordDigest);
    assert.equal((await api(server, 'GET', `/v1/models/${name}/versions/1?${at(times.before)}`)).status, 404);
  });

  test('?at= on a route that does not answer from history is refused with 400, and nothing changes', async () => {
    const t = at(times.first);
    const cases: [string, string, unknown?][] = [
      ['GET', `/v1/models/${name}?${t}`],
      ['GET', `/v1/models/${name}/versions?${t}`],
      ['GET', `/v1/models/${name}/deployments?${t}`],
      ['GET', `/v1/models/${name}/versions/1/history?${t}`],
      ['GET', `/v1/models/${name}/aliases?${t}`],
      ['PUT', `/v1/models/${name}/aliases/staging?${t}`, { version: 1 }],
      ['PATCH', `/v1/models/${name}/versions/1?${t}`, { card }],
      ['GET', `/v1/audit?${t}`],
      ['GET', `/v2/${name}/manifests/production?${t}`],
      ['GET', `/v1/models/${name}?at=`],
    ];
    for (const [method, path, body] of cases) {
      const res = await api(server, method, path, body);
      assert.equal(res.status, 400, `${method} ${path}: ${res.text}`);
      assert.match(res.text, /AT_UNSUPPORTED/, `${method} ${path}`);
    }
    assert.equal((await api(server, 'GET', `/v1/models/${name}/aliases`)).json.aliases.staging, undefined);
  });
});

describe('the CLI takes --at', () => {
  const env = () => ({ MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token });

  test('resolve --at and show --at', async () => {
    const resolved = parseJson(await runCli(['resolve', `${name}@production`, '--at', times.first, '--json'], env()));
    assert.equal(resolved.version, 1);
    assert.deepEqual(resolved.record.card, card);
    const text = await runCli(['resolve', `${name}@production`, '--at', times.first], env());
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^status {3}approved$/m);
    assert.match(text.stdout, /^card {5}limitations: EU data only$/m);
    assert.match(text.stdout, new RegExp(`^record {3}${resolved.record.recordDigest}$`, 'm'));
    const later = await runCli(['resolve', `${name}@production`, '--at', times.edited], env());
    assert.match(later.stdout, /^card {5}limitations: EU data only; not for minors$/m);
    assert.match(later.stdout, /^status {3}registered$/m);
    const shown = await runCli(['show', `${name}@production`, '--at', times.first], env());
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /EU data only\n/);
    assert.doesNotMatch(shown.stdout, /not for minors/);
    const bad = await runCli(['resolve', `${name}@production`, '--at', 'yesterday'], env());
    assert.equal(bad.code, 2);
  });

  test('pull --at fetches what the alias pointed at then', async () => {
    const target = join(dir, 'then');
    const run = await runCli(['pull', `${name}@production`, target, '--at', times.edited], env());
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await readFile(join(target, 'model.bin'), 'utf8'), 'pit v1');
    const now = join(dir, 'now');
    assert.equal((await runCli(['pull', `${name}@production`, now], env())).code, 0);
    assert.equal(await readFile(join(now, 'model.bin'), 'utf8'), 'pit v2');
  });
});
