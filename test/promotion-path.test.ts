// Stages as a path (issue #13), through the real service: a policy configured as
// staging → canary → production, where staging asks a card but no approver (moveRole writer), and
// production asks an approval, that the version first held staging or canary, and a soak time
// there. Every path that moves an alias (set, rollback, OCI tag push, CLI push --alias) runs the
// same check; an alias off the path stays ungated.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateManifest } from '../src/oci/generate.js';
import { runCli, writeTree } from './harness/cli.js';
import { api, waitFor, registerFiles } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken } from './harness/tokens.js';

const card = { intendedUse: 'rank search results', limitations: 'English only' };
const config = `policy:
  aliases:
    staging:
      approvals: 0
      requiredCardFields: [intendedUse]
    canary:
      approvals: 0
      after: [staging]
      moveRole: writer
    production:
      approvals: 1
      requiredCardFields: [intendedUse, limitations]
      after: [staging, canary]
      soakSeconds: 3600
    fast:
      approvals: 1
      after: [staging]
      soakSeconds: 1
`;

let server: TestServer;
let dir: string;
let writer: string;
let approver: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-path-'));
  const file = join(dir, 'path.yaml');
  await writeFile(file, config);
  server = await startServer({ args: ['--config', file] });
  writer = (await createToken(server, 'path-writer', 'writer')).token;
  approver = (await createToken(server, 'path-approver', 'approver')).token;
});
after(async () => {
  await server.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function register(name: string, content: string, extra: Record<string, unknown> = { card }): Promise<number> {
  return (await registerFiles(server, name, { 'model.bin': content }, { token: writer, extra, accept: [201] })).version;
}
const set = (token: string, name: string, alias: string, version: number) =>
  as(server, token, 'PUT', `/v1/models/${name}/aliases/${alias}`, { version });
const codes = (res: { json: any }) => res.json.error.details.map((d: { code: string }) => d.code);

describe('who may move what', () => {
  test('a writer moves staging (its card required, no approver) and canary (moveRole writer), not production', async () => {
    const name = 'path/roles';
    await register(name, 'roles-1');
    const bare = await register(name, 'roles-2', {});
    const noCard = await set(writer, name, 'staging', bare);
    assert.equal(noCard.status, 403);
    assert.deepEqual(codes(noCard), ['CARD_FIELD']);
    assert.equal((await set(writer, name, 'staging', 1)).status, 200);
    assert.equal((await set(writer, name, 'canary', 1)).status, 200);
    const prod = await set(writer, name, 'production', 1);
    assert.equal(prod.status, 403);
    assert.equal(prod.json.error.code, 'FORBIDDEN');
    // The policy route says so.
    const policy = (await api(server, 'GET', `/v1/models/${name}/versions/1/policy`)).json;
    const production = policy.aliases.find((p: { alias: string }) => p.alias === 'production');
    assert.deepEqual(
      [production.requirements.after, production.requirements.soakSeconds, production.requirements.moveRole],
      [['staging', 'canary'], 3600, 'approver'],
    );
    // An alias off the path is not gated.
    assert.equal((await set(writer, name, 'main', bare)).status, 200);
  });
});

describe('the path, on every path that moves an alias', () => {
  test('production without an earlier stage is refused by set, rollback --to, an OCI tag push and push --alias alike', async () => {
    const name = 'path/skip';
    await register(name, 'skip-1');
    await register(name, 'skip-2');
    for (const v of [1, 2])
      assert.equal((await as(server, approver, 'POST', `/v1/models/${name}/versions/${v}/approvals`, { decision: 'approve' })).status, 201);

    const bySet = await set(approver, name, 'production', 1);
    assert.equal(bySet.status, 403);
    assert.deepEqual(codes(bySet), ['STAGE']);
    assert.match(bySet.json.error.message, /must first have held one of @staging, @canary/);

    // Staged and soaked is not possible here (an hour), so v1 reaches production through "fast", a
    // shorter path, to give rollback something to act on: fast asks staging and 1 s there.
    assert.equal((await set(writer, name, 'staging', 1)).status, 200);
    await waitFor(async () => (await set(approver, name, 'fast', 1)).status === 200, 30_000, 'the 1 s soak on staging');
    const byRollback = await as(server, approver, 'POST', `/v1/models/${name}/aliases/fast/rollback`, { toVersion: 2 });
    assert.equal(byRollback.status, 403);
    assert.deepEqual(codes(byRollback), ['STAGE']);

    const v2 = (await api(server, 'GET', `/v1/models/${name}/versions/2`)).json;
    const manifest = generateManifest(v2);
    const byOci = await fetch(`${server.url}/v2/${name}/manifests/production`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${approver}`, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest.bytes,
    });
    assert.equal(byOci.status, 403);
    assert.equal(((await byOci.json()) as any).errors[0].detail.modelgate, 'POLICY_UNMET');

    const modelDir = join(dir, 'skip-push');
    await writeTree(modelDir, { 'w.bin': 'skip push' });
    const byPush = await runCli(['push', modelDir, name, '--alias', 'production'], {
      MODELGATE_URL: server.url,
      MODELGATE_TOKEN: approver,
    });
    assert.equal(byPush.code, 1);
    assert.match(byPush.stderr, /must first have held one of @staging, @canary/);

    const pointer = await api(server, 'GET', `/v1/models/${name}/aliases`);
    assert.equal(pointer.json.aliases.production, undefined, 'nothing moved production');
  });

  test('a staged version must soak: refused with SOAK while its stay is shorter than the policy asks', async () => {
    const name = 'path/soak';
    await register(name, 'soak-1');
    assert.equal((await as(server, approver, 'POST', `/v1/models/${name}/versions/1/approvals`, { decision: 'approve' })).status, 201);
    assert.equal((await set(writer, name, 'staging', 1)).status, 200);
    const early = await set(approver, name, 'production', 1);
    assert.equal(early.status, 403);
    assert.deepEqual(codes(early), ['SOAK']);
    assert.match(early.json.error.message, /for at least 3600 s/);
  });
});
