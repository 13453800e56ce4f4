// `modelgate edit` and `modelgate delete` against a real server: the CLI is one more path to
// PATCH and DELETE of a version, so the registry's rules hold on it as on the API (approvals of the
// old record void, a production version keeps serving with a warning, an edit or deprecation that
// breaks production's policy refused, a held or protected version never deleted), and bad input
// stops before any request, changing nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ok, parseJson, runCli } from './harness/cli.js';
import { api, registerFiles } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

let server: TestServer;
let writer: string;
let approver: string;
let tmp: string;

before(async () => {
  server = await startServer();
  writer = (await createToken(server, 'edit-writer', 'writer')).token;
  approver = (await createToken(server, 'edit-approver', 'approver')).token;
  tmp = await mkdtemp(join(tmpdir(), 'modelgate-edit-'));
});
after(async () => {
  await server.dispose();
  await rm(tmp, { recursive: true, force: true });
});

const card = { intendedUse: 'score card transactions', limitations: 'EU data only' };
const cli = (args: string[], token = writer) => runCli([...args, '--server', server.url], { MODELGATE_TOKEN: token });
const show = async (name: string, v: number) => (await api(server, 'GET', `/v1/models/${name}/versions/${v}`)).json;
const headSeq = async () => (await api(server, 'GET', '/v1/audit/verify')).json.headSeq as number;

async function file(name: string, text: string): Promise<string> {
  const path = join(tmp, name);
  await writeFile(path, text);
  return path;
}

/** A version on production: carded, staged on canary, approved by another token, promoted. */
async function inProduction(name: string): Promise<void> {
  const { version } = await registerFiles(server, name, { 'model.bin': `${name} one` }, { token: writer, extra: { card }, accept: [201] });
  await stage(server, writer, name, version, 'canary');
  const approval = await as(server, approver, 'POST', `/v1/models/${name}/versions/${version}/approvals`, { decision: 'approve' });
  assert.equal(approval.status, 201, JSON.stringify(approval.json));
  assert.equal((await as(server, approver, 'PUT', `/v1/models/${name}/aliases/production`, { version })).status, 200);
}

test('edit replaces the record from a YAML file: approvals of the old record void, production keeps serving with a warning', async () => {
  await inProduction('ed/serving');
  const before = await show('ed/serving', 1);
  assert.equal(before.status, 'approved');
  const yaml = await file(
    'card.yaml',
    'card:\n  intendedUse: score card transactions\n  limitations: EU data only (typo fixed)\nmetrics:\n  auc: 0.91\n',
  );
  const run = ok(await cli(['edit', 'ed/serving', 'v1', '--metadata', yaml]));
  const after = await show('ed/serving', 1);
  assert.equal(run.stdout, `ed/serving@v1 record ${after.recordDigest} (registered)\n`);
  assert.notEqual(after.recordDigest, before.recordDigest);
  assert.equal(after.card.limitations, 'EU data only (typo fixed)');
  assert.deepEqual(after.metrics.auc, { value: 0.91 });
  assert.match(run.stderr, /^WARNING serving on @production on a record not yet re-approved since /);
  assert.deepEqual(after.servingUnapproved.aliases, ['production']);
  const audit = (await api(server, 'GET', '/v1/audit?action=version.update&model=ed/serving')).json.entries;
  assert.equal(audit.length, 1);
  assert.equal(audit[0].actor.name, 'edit-writer');
  assert.equal(audit[0].details.approvalsVoided.length, 1);

  // --json prints the version as the server shows it now.
  const again = parseJson(
    await cli(['edit', 'ed/serving', '1', '--metadata', await file('m.json', '{"metadata":{"team":"risk"}}'), '--json']),
  );
  assert.deepEqual([again.metadata, again.servingUnapproved.aliases], [{ team: 'risk' }, ['production']]);
});

test('edit is held to production’s policy: a required card field removed, or --deprecate, is refused and changes nothing', async () => {
  await inProduction('ed/held');
  const seq = await headSeq();
  const broken = await cli([
    'edit',
    'ed/held',
    '1',
    '--metadata',
    await file('broken.yaml', 'card:\n  intendedUse: score card transactions\n'),
  ]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /POLICY_UNMET/);
  assert.match(broken.stderr, /limitations/);
  const deprecate = await cli(['edit', 'ed/held', '1', '--deprecate']);
  assert.equal(deprecate.code, 1);
  assert.match(deprecate.stderr, /production/);
  assert.equal((await show('ed/held', 1)).card.limitations, 'EU data only');
  // Refusals are audited as denied.*; the version itself is untouched.
  assert.equal((await api(server, 'GET', '/v1/audit?action=version.update&model=ed/held')).json.entries.length, 0);
  assert.ok((await headSeq()) >= seq);

  // Once production holds another version, deprecating v1 goes through.
  await registerFiles(server, 'ed/held', { 'model.bin': 'ed/held two' }, { token: writer, extra: { card }, accept: [201] });
  await stage(server, writer, 'ed/held', 2, 'canary');
  assert.equal((await as(server, approver, 'POST', '/v1/models/ed/held/versions/2/approvals', { decision: 'approve' })).status, 201);
  assert.equal((await as(server, approver, 'PUT', '/v1/models/ed/held/aliases/production', { version: 2 })).status, 200);
  assert.equal(
    ok(await cli(['edit', 'ed/held', '1', '--deprecate'])).stdout,
    `ed/held@v1 record ${(await show('ed/held', 1)).recordDigest} (deprecated)\n`,
  );
});

test('delete: admin only, refused for a version an alias holds or that held production, done for a free one', async () => {
  await inProduction('ed/gone');
  await registerFiles(server, 'ed/gone', { 'model.bin': 'ed/gone two' }, { token: writer, accept: [201] });
  await registerFiles(server, 'ed/gone', { 'model.bin': 'ed/gone three' }, { token: writer, extra: { card }, accept: [201] });
  await stage(server, writer, 'ed/gone', 3, 'canary');
  assert.equal((await as(server, approver, 'POST', '/v1/models/ed/gone/versions/3/approvals', { decision: 'approve' })).status, 201);
  assert.equal((await as(server, approver, 'PUT', '/v1/models/ed/gone/aliases/production', { version: 3 })).status, 200);

  const byWriter = await cli(['delete', 'ed/gone', '2', '--reason', 'mistake']);
  assert.equal(byWriter.code, 1);
  assert.match(byWriter.stderr, /403|FORBIDDEN|admin/);
  const held = await cli(['delete', 'ed/gone', '3', '--reason', 'mistake'], server.token);
  assert.equal(held.code, 1);
  assert.match(held.stderr, /VERSION_IN_USE/);
  const retained = await cli(['delete', 'ed/gone', '1', '--reason', 'mistake'], server.token);
  assert.equal(retained.code, 1);
  assert.match(retained.stderr, /VERSION_RETAINED/);
  for (const v of [1, 2, 3]) assert.equal((await api(server, 'GET', `/v1/models/ed/gone/versions/${v}`)).status, 200);

  assert.equal(ok(await cli(['delete', 'ed/gone', 'v2', '--reason', 'pushed by mistake'], server.token)).stdout, 'deleted ed/gone@v2\n');
  assert.equal((await api(server, 'GET', '/v1/models/ed/gone/versions/2')).status, 404);
  const [entry] = (await api(server, 'GET', '/v1/audit?action=version.delete&model=ed/gone')).json.entries;
  assert.equal(entry.target, 'ed/gone@v2');
  assert.equal(entry.details.reason, 'pushed by mistake');
});

test('bad input stops before any request: nothing to edit, an unknown key, a missing reason, a bad version', async () => {
  const name = 'ed/input';
  await registerFiles(server, name, { 'model.bin': 'ed input' }, { token: writer, extra: { card }, accept: [201] });
  const seq = await headSeq();
  const nothing = await cli(['edit', name, '1']);
  assert.equal(nothing.code, 2);
  assert.match(nothing.stderr, /nothing to edit/);
  const unknown = await cli(['edit', name, '1', '--metadata', await file('typo.yaml', 'cards:\n  intendedUse: x\n')]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown top-level key "cards"/);
  const empty = await cli(['edit', name, '1', '--metadata', await file('empty.yaml', '')]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /nothing to edit/);
  const noReason = await cli(['delete', name, '1'], server.token);
  assert.equal(noReason.code, 2);
  assert.match(noReason.stderr, /--reason is required/);
  const badVersion = await cli(['edit', name, 'latest', '--deprecate']);
  assert.equal(badVersion.code, 2);
  for (const command of ['edit', 'delete']) {
    assert.match(ok(await cli(['--help'])).stdout, new RegExp(`^  ${command} <name> <version> `, 'm'));
    assert.match(ok(await cli([command, '--help'])).stdout, new RegExp(`^usage: modelgate ${command} <name> <version>`));
  }
  assert.equal(await headSeq(), seq, 'nothing reached the registry');
  assert.equal((await show(name, 1)).status, 'registered');
});
