// Roles people actually have (issue #13), through the real service and CLI: an auditor reads
// everything in its scope, the audit log, its export, verification and checkpoints included, and
// writes nothing; a scoped reader of the log sees other scopes' entries only as their place in the
// chain, so a scoped export still verifies offline; a writer scoped to risk/* pushes normally even
// when another scope already stored the same bytes, and learns nothing about that.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ok, parseJson, runCli, writeTree } from './harness/cli.js';
import { sha256, uploadBlob, registerFiles } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

const card = { intendedUse: 'score loans', limitations: 'EU only' };

let server: TestServer;
let dir: string;
let writer: string;
let approver: string;
let auditorAll: string;
let auditorRisk: string;
let approverRisk: string;
let writerRisk: string;

async function register(name: string, content: string): Promise<number> {
  return (await registerFiles(server, name, { 'model.bin': content }, { token: writer, extra: { card }, accept: [201] })).version;
}

before(async () => {
  server = await startServer();
  dir = await mkdtemp(join(tmpdir(), 'modelgate-auditor-'));
  writer = (await createToken(server, 'aud-writer', 'writer')).token;
  approver = (await createToken(server, 'aud-approver', 'approver')).token;
  auditorAll = (await createToken(server, 'aud-auditor', 'auditor')).token;
  auditorRisk = (await createToken(server, 'aud-auditor-risk', 'auditor', 'risk/*')).token;
  approverRisk = (await createToken(server, 'aud-approver-risk', 'approver', 'risk/*')).token;
  writerRisk = (await createToken(server, 'aud-writer-risk', 'writer', 'risk/*')).token;
  for (const name of ['risk/score', 'other/secret-model']) {
    await register(name, `${name} v1`);
    assert.equal((await as(server, approver, 'POST', `/v1/models/${name}/versions/1/approvals`, { decision: 'approve' })).status, 201);
    await stage(server, writer, name, 1);
    assert.equal((await as(server, approver, 'PUT', `/v1/models/${name}/aliases/production`, { version: 1 })).status, 200);
  }
  assert.equal((await as(server, approver, 'POST', '/v1/audit/checkpoints', {})).status, 201);
});
after(async () => {
  await server.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('the auditor role', () => {
  test('reads models, versions, the audit log, verification and checkpoints', async () => {
    assert.equal((await as(server, auditorAll, 'GET', '/v1/models/risk/score/versions/1')).status, 200);
    const audit = await as(server, auditorAll, 'GET', '/v1/audit');
    assert.equal(audit.status, 200);
    assert.ok(audit.json.entries.some((e: { target: string }) => e.target === 'other/secret-model@v1'));
    assert.equal((await as(server, auditorAll, 'GET', '/v1/audit/verify')).json.ok, true);
    assert.equal((await as(server, auditorAll, 'GET', '/v1/audit/checkpoints')).json.checkpoints.length, 1);
  });

  test('writes nothing: register, edit, approve, move an alias, retire, take a checkpoint, mint a token are all 403', async () => {
    const digest = await uploadBlob(server, Buffer.from('auditor tries'));
    const attempts: [string, string, unknown][] = [
      ['POST', '/v1/models/risk/score/versions', { files: [{ path: 'x', size: 13, digest }] }],
      ['PATCH', '/v1/models/risk/score/versions/1', { card: { ...card, limitations: 'none' } }],
      ['POST', '/v1/models/risk/score/versions/1/approvals', { decision: 'approve' }],
      ['PUT', '/v1/models/risk/score/aliases/staging', { version: 1 }],
      ['POST', '/v1/models/risk/score/versions/1/retire', {}],
      ['POST', '/v1/audit/checkpoints', {}],
      ['POST', '/v1/tokens', { name: 'x', role: 'admin', scope: '*' }],
    ];
    for (const [method, path, body] of attempts) {
      const res = await as(server, auditorAll, method, path, body);
      assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.json)}`);
    }
    const upload = await fetch(`${server.url}/v1/blobs?digest=${sha256('x')}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${auditorAll}` },
      body: 'x',
    });
    assert.equal(upload.status, 403);
  });

  test('a token can be created with the auditor role from the CLI', async () => {
    const created = parseJson(
      await runCli(['token', 'create', '--name', 'cli-auditor', '--role', 'auditor', '--scope', 'risk/*', '--json'], {
        MODELGATE_URL: server.url,
        MODELGATE_TOKEN: server.token,
      }),
    );
    assert.equal(created.role, 'auditor');
  });
});

describe('a scoped reader of the audit log', () => {
  test("sees its scope whole and other scopes' entries only as their place in the chain; filters never show them", async () => {
    const res = await as(server, auditorRisk, 'GET', '/v1/audit');
    assert.equal(res.status, 200);
    const entries = res.json.entries as Record<string, unknown>[];
    const text = JSON.stringify(entries);
    assert.ok(!text.includes('other/secret-model'), 'nothing of the other scope');
    assert.ok(!entries.some((e) => String(e.action).startsWith('token.')), 'no token entries');
    assert.ok(entries.some((e) => e.target === 'risk/score@production'));
    const redacted = entries.filter((e) => e.redacted === true);
    assert.ok(redacted.length > 0);
    for (const e of redacted) assert.deepEqual(Object.keys(e).sort(), ['hash', 'prevHash', 'redacted', 'seq']);
    assert.ok(
      entries.some((e) => e.action === 'audit.checkpoint'),
      'checkpoints are shown to every reader',
    );
    // A filter answers only from the scope: no stubs whose presence would say what they are.
    const tokens = await as(server, auditorRisk, 'GET', '/v1/audit?action=token');
    assert.deepEqual(tokens.json.entries, []);
    const other = await as(server, auditorRisk, 'GET', '/v1/audit?model=other/secret-model');
    assert.deepEqual(other.json.entries, []);
    // An approver scoped to risk/* reads the same view.
    assert.deepEqual((await as(server, approverRisk, 'GET', '/v1/audit')).json.entries, entries);
  });

  test('its export verifies offline against the published key, without revealing the rest', async () => {
    const env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: auditorRisk };
    const exportFile = join(dir, 'risk.jsonl');
    const keyFile = join(dir, 'key.pem');
    ok(await runCli(['audit', 'export', '--out', exportFile], env));
    ok(await runCli(['audit', 'keys', '--out', keyFile], env));
    assert.ok(!(await readFile(exportFile, 'utf8')).includes('other/secret-model'));
    const checkpoints = parseJson(await runCli(['audit', 'checkpoints', '--json'], env));
    const head = `${checkpoints.latest.seq}:${checkpoints.latest.hash}`;
    const run = await runCli(['audit', 'verify', '--offline', exportFile, '--public-key', keyFile, '--expect-head', head]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\d+ entries outside the export's scope are present only as their hashes/);
    const verify = await as(server, auditorRisk, 'GET', '/v1/audit/verify');
    assert.equal(verify.json.ok, true);
  });
});

describe('a writer scoped to risk/*', () => {
  test('pushes bytes another scope already stored: HEAD answers missing, POST answers a new upload, the push registers', async () => {
    const content = 'bytes other/secret-model also has';
    const digest = await uploadBlob(server, Buffer.from(content));
    const res = await as(server, writer, 'POST', '/v1/models/other/secret-model/versions', {
      files: [{ path: 'shared.bin', size: Buffer.byteLength(content), digest }],
    });
    assert.equal(res.status, 201);

    const head = await fetch(`${server.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: { Authorization: `Bearer ${writerRisk}` } });
    assert.equal(head.status, 404);
    const missing = await fetch(`${server.url}/v1/blobs/${sha256('never stored')}`, {
      headers: { Authorization: `Bearer ${writerRisk}` },
    });
    const hidden = await fetch(`${server.url}/v1/blobs/${digest}`, { headers: { Authorization: `Bearer ${writerRisk}` } });
    assert.equal(hidden.status, 404);
    const hiddenBody = (await hidden.json()) as { error: { code: string; message: string } };
    const missingBody = (await missing.json()) as { error: { code: string; message: string } };
    assert.equal(hiddenBody.error.code, missingBody.error.code);
    assert.equal(hiddenBody.error.message.replace(digest, 'D'), missingBody.error.message.replace(sha256('never stored'), 'D'));

    const post = await fetch(`${server.url}/v1/blobs?digest=${digest}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${writerRisk}` },
      body: content,
    });
    assert.equal(post.status, 201);
    assert.deepEqual(await post.json(), { digest, size: Buffer.byteLength(content) });
    // A * writer is told the truth.
    const again = await fetch(`${server.url}/v1/blobs?digest=${digest}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${writer}` },
      body: content,
    });
    assert.equal(again.status, 200);

    // The CLI push of the same bytes under risk/* works end to end.
    const modelDir = join(dir, 'push');
    await writeTree(modelDir, { 'shared.bin': content, 'own.bin': 'risk only' });
    const push = await runCli(['push', modelDir, 'risk/pushed', '--json'], { MODELGATE_URL: server.url, MODELGATE_TOKEN: writerRisk });
    const pushed = parseJson(push);
    assert.equal(pushed.version, 1);
    // Now a model in its scope lists the blob: it is in view.
    const visible = await fetch(`${server.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: { Authorization: `Bearer ${writerRisk}` } });
    assert.equal(visible.status, 200);
  });
});
