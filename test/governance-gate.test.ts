// One gate on every path, and approvals bound to the record they approved (issue #13), through the
// real service: alias set, rollback and OCI tag pushes refuse the same versions; an edit voids
// approvals, a version serving production keeps serving but is flagged, and an edit that breaks
// production's policy is refused; retirement is final.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { recordDigest } from '../src/domain/record-digest.js';
import { generateManifest } from '../src/oci/generate.js';
import { api, uploadBlob, registerFiles } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

let server: TestServer;
let writer: string;
let approver: string;
let approver2: string;

before(async () => {
  server = await startServer();
  writer = (await createToken(server, 'gate-writer', 'writer')).token;
  approver = (await createToken(server, 'gate-approver', 'approver')).token;
  approver2 = (await createToken(server, 'gate-approver-2', 'approver')).token;
});
after(async () => {
  await server.dispose();
});

const card = { intendedUse: 'score card transactions', limitations: 'EU data only' };

async function register(name: string, content: string, extra: Record<string, unknown> = { card }) {
  const version = await registerFiles(server, name, { 'model.bin': content }, { token: writer, extra, accept: [201] });
  // Each version first holds @canary, the default promotion path's stage before production: the
  // gates under test here are the others.
  await stage(server, writer, name, version.version, 'canary');
  return version;
}
const approve = (name: string, v: number, token = approver, extra: Record<string, unknown> = {}) =>
  as(server, token, 'POST', `/v1/models/${name}/versions/${v}/approvals`, { decision: 'approve', ...extra });
const reject = (name: string, v: number, token = approver2) =>
  as(server, token, 'POST', `/v1/models/${name}/versions/${v}/approvals`, { decision: 'reject', comment: 'no' });
const set = (name: string, alias: string, v: number, token = approver) =>
  as(server, token, 'PUT', `/v1/models/${name}/aliases/${alias}`, { version: v });
const rollback = (name: string, alias: string, body: Record<string, unknown> = {}) =>
  as(server, approver, 'POST', `/v1/models/${name}/aliases/${alias}/rollback`, body);
const patch = (name: string, v: number, body: Record<string, unknown>) =>
  as(server, writer, 'PATCH', `/v1/models/${name}/versions/${v}`, body);
const show = async (name: string, v: number) => (await api(server, 'GET', `/v1/models/${name}/versions/${v}`)).json;
const codes = (res: { json: any }) => res.json.error.details.map((d: { code: string }) => d.code);
const seqNow = async () => (await api(server, 'GET', '/v1/audit/verify')).json.headSeq as number;

function ociPut(name: string, tag: string, bytes: Buffer, token: string) {
  return fetch(`${server.url}/v2/${name}/manifests/${tag}`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: bytes,
  });
}

describe('one gate, every path', () => {
  test('a version rejected after it served production: refused by set, rollback and OCI tag push alike', async () => {
    const name = 'one/rejected';
    for (let i = 1; i <= 3; i++) {
      await register(name, `rej-${i}`);
      assert.equal((await approve(name, i)).status, 201);
    }
    for (const v of [1, 2, 3]) assert.equal((await set(name, 'production', v)).status, 200);
    // v2 is found biased after it served: a second approver rejects it.
    assert.equal((await reject(name, 2)).json.status, 'rejected');
    const before = await seqNow();

    const bySet = await set(name, 'production', 2);
    assert.equal(bySet.status, 403);
    assert.deepEqual(codes(bySet), ['STATUS']);
    const byRollback = await rollback(name, 'production');
    assert.equal(byRollback.status, 403, 'the default rollback target (v2) is rejected');
    assert.deepEqual(codes(byRollback), ['STATUS']);
    const byRollbackTo = await rollback(name, 'production', { toVersion: 2 });
    assert.equal(byRollbackTo.status, 403);
    const v2 = await show(name, 2);
    const byOci = await ociPut(name, 'production', generateManifest(v2).bytes, approver);
    assert.equal(byOci.status, 403);
    const ociBody = (await byOci.json()) as any;
    assert.equal(ociBody.errors[0].detail.modelgate, 'POLICY_UNMET');

    assert.equal((await api(server, 'GET', `/v1/resolve/${name}@production`)).json.version, 3);
    const refusals = (await api(server, 'GET', `/v1/audit?fromSeq=${before + 1}&limit=100`)).json.entries;
    assert.ok(
      refusals.every((e: { action: string }) => e.action.startsWith('denied.')),
      'refusals change nothing but the log',
    );
    assert.equal(refusals.length, 4);
  });

  test('rollback to a former holder whose record changed since: refused until the new record is approved', async () => {
    const name = 'one/edited';
    for (let i = 1; i <= 2; i++) {
      await register(name, `ed-${i}`);
      await approve(name, i);
    }
    await set(name, 'production', 1);
    await set(name, 'production', 2);
    // v1 is edited while out of production: its approval is for a record that no longer exists.
    const edited = await patch(name, 1, { metrics: { auc: 0.5 } });
    assert.equal(edited.status, 200);
    assert.equal(edited.json.status, 'registered');
    const refused = await rollback(name, 'production');
    assert.equal(refused.status, 403);
    assert.deepEqual(codes(refused), ['APPROVALS']);
    assert.equal((await api(server, 'GET', `/v1/resolve/${name}@production`)).json.version, 2);

    assert.equal((await approve(name, 1, approver2)).status, 201);
    const rolled = await rollback(name, 'production');
    assert.equal(rolled.status, 200, JSON.stringify(rolled.json));
    assert.equal(rolled.json.version, 1);
  });

  test('rollback to an unchanged former holder skips re-collecting approvals, and only that', async () => {
    // Production first needs one approval, then (after a restart with a stricter policy) two.
    const dir = await mkdtemp(join(tmpdir(), 'modelgate-gate-'));
    const file = join(dir, 'policy.yaml');
    const policy = (approvals: number) =>
      `policy:\n  aliases:\n    production:\n      approvals: ${approvals}\n      separationOfDuties: true\n      requiredCardFields: [intendedUse, limitations]\n`;
    await writeFile(file, policy(1));
    const strict = await startServer({ args: ['--config', file] });
    try {
      const w = (await createToken(strict, 'w', 'writer')).token;
      const a = (await createToken(strict, 'a', 'approver')).token;
      for (let i = 1; i <= 3; i++) {
        const content = `strict-${i}`;
        const digest = await uploadBlob(strict, Buffer.from(content));
        await as(strict, w, 'POST', '/v1/models/s/m/versions', { files: [{ path: 'm.bin', size: content.length, digest }], card });
        await as(strict, a, 'POST', `/v1/models/s/m/versions/${i}/approvals`, { decision: 'approve' });
      }
      for (const v of [1, 2]) assert.equal((await as(strict, a, 'PUT', '/v1/models/s/m/aliases/production', { version: v })).status, 200);
      await writeFile(file, policy(2));
      await strict.restart();

      const setOne = await as(strict, a, 'PUT', '/v1/models/s/m/aliases/production', { version: 1 });
      assert.equal(setOne.status, 403, 'a set collects approvals under the current policy');
      assert.deepEqual(codes(setOne), ['APPROVALS']);
      const rollToThree = await as(strict, a, 'POST', '/v1/models/s/m/aliases/production/rollback', { toVersion: 3 });
      assert.equal(rollToThree.status, 403, 'v3 never held production: no skip');
      assert.deepEqual(codes(rollToThree), ['APPROVALS']);
      const rolled = await as(strict, a, 'POST', '/v1/models/s/m/aliases/production/rollback', {});
      assert.equal(rolled.status, 200, JSON.stringify(rolled.json));
      assert.equal(rolled.json.version, 1);
      const history = (await api(strict, 'GET', '/v1/models/s/m/aliases/production/history')).json.history;
      const v1 = (await api(strict, 'GET', '/v1/models/s/m/versions/1')).json;
      assert.equal(history.at(-1).recordDigest, v1.recordDigest, 'the alias event names the record it deployed');
    } finally {
      await strict.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('an approval approves a record', () => {
  test('record digest: recomputable from the record, changed by any reviewable field', async () => {
    const v = await register('rec/digest', 'digest-1', {
      card,
      metrics: { auc: 0.91 },
      lineage: { trainingRunId: 'r1' },
      metadata: { framework: 'xgboost' },
    });
    const shown = await show('rec/digest', v.version);
    assert.equal(shown.recordDigest, recordDigest(shown));
    const seen = new Set([shown.recordDigest]);
    for (const body of [
      { card: { ...card, contacts: ['a@example.com'] } },
      { metrics: { auc: 0.92 } },
      { lineage: { trainingRunId: 'r2' } },
      { metadata: { framework: 'lightgbm' } },
    ]) {
      const res = await patch('rec/digest', v.version, body);
      assert.equal(res.status, 200);
      assert.ok(!seen.has(res.json.recordDigest), `${Object.keys(body)[0]} changes the record digest`);
      seen.add(res.json.recordDigest);
    }
  });

  test('an edit voids approvals: status back to registered, audited with before/after digests, visible in show', async () => {
    const name = 'rec/void';
    await register(name, 'void-1');
    const first = await approve(name, 1, approver, { comment: 'ok' });
    assert.equal(first.json.status, 'approved');
    const before = await show(name, 1);
    assert.equal(first.json.recordDigest, before.recordDigest);

    const edited = await patch(name, 1, { card: { intendedUse: 'Anything you like.', limitations: 'none' }, metrics: { auc: 0.5 } });
    assert.equal(edited.json.status, 'registered');
    const after = await show(name, 1);
    assert.notEqual(after.recordDigest, before.recordDigest);

    const entry = (await api(server, 'GET', `/v1/audit?model=${name}&action=version.update`)).json.entries.at(-1);
    assert.deepEqual(entry.details.recordDigest, { before: before.recordDigest, after: after.recordDigest });
    assert.deepEqual(entry.details.status, { before: 'approved', after: 'registered' });
    assert.deepEqual(entry.details.approvalsVoided, [first.json.seq]);
    assert.deepEqual(Object.keys(entry.details.changes).sort(), ['card', 'metrics']);
    assert.match(entry.details.changes.card.before, /^sha256:/);

    // The same approver may decide again on the new record; the gate counts only that one.
    assert.equal((await set(name, 'production', 1)).status, 403);
    const replay = await approve(name, 1, approver, { recordDigest: before.recordDigest });
    assert.equal(replay.status, 409, 'an approval naming the old record is refused');
    assert.equal(replay.json.error.code, 'RECORD_CHANGED');
    const again = await approve(name, 1, approver, { recordDigest: after.recordDigest });
    assert.equal(again.status, 201);
    assert.equal((await set(name, 'production', 1)).status, 200);
  });

  test('a rejection is final: an edit keeps it rejected and no approval follows', async () => {
    const name = 'rec/final';
    await register(name, 'final-1');
    await reject(name, 1);
    const edited = await patch(name, 1, { card: { ...card, evaluation: 'fixed the bias, promise' } });
    assert.equal(edited.status, 200);
    assert.equal(edited.json.status, 'rejected');
    const approval = await approve(name, 1);
    assert.equal(approval.status, 409);
    assert.equal(approval.json.error.code, 'VERSION_REJECTED');
    assert.equal((await show(name, 1)).status, 'rejected');
  });

  test('a version serving production may be edited: it keeps serving, flagged in show, resolve and watch, until re-approved', async () => {
    const name = 'rec/serving';
    await register(name, 'serving-1');
    await approve(name, 1);
    await set(name, 'production', 1);
    const clean = await api(server, 'GET', `/v1/resolve/${name}@production`);
    assert.equal(clean.headers.get('x-model-record-unapproved-since'), null);
    assert.equal((await show(name, 1)).servingUnapproved, null);

    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/watch?models=${name}`, {
      headers: { Authorization: `Bearer ${server.token}` },
    });
    const messages: any[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data))));
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      const check = () => (messages.some((m) => m.type === 'snapshot') ? resolve() : setTimeout(check, 10));
      check();
    });

    const typo = await patch(name, 1, { card: { ...card, limitations: 'EU data only (typo fixed)' } });
    assert.equal(typo.status, 200);
    const since = typo.json.recordChangedAt;
    const shown = await show(name, 1);
    assert.deepEqual(shown.servingUnapproved, { since, aliases: ['production'] });
    const resolved = await api(server, 'GET', `/v1/resolve/${name}@production`);
    assert.equal(resolved.json.version, 1, 'the alias stays where it is');
    assert.equal(resolved.headers.get('x-model-record-unapproved-since'), since);
    assert.equal(resolved.json.servingUnapprovedSince, since);
    const deadline = Date.now() + 5000;
    while (!messages.some((m) => m.action === 'version.update') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const change = messages.find((m) => m.action === 'version.update');
    assert.deepEqual(change?.servingUnapproved, { since, aliases: ['production'] });
    ws.close();

    assert.equal((await approve(name, 1, approver2)).status, 201);
    assert.equal((await show(name, 1)).servingUnapproved, null);
    assert.equal((await api(server, 'GET', `/v1/resolve/${name}@production`)).headers.get('x-model-record-unapproved-since'), null);
  });

  test("an edit that would make a production version fail production's policy is refused with the unmet list; nothing changes", async () => {
    const name = 'rec/gutted';
    await register(name, 'gutted-1');
    await approve(name, 1);
    await set(name, 'production', 1);
    const before = await show(name, 1);
    const seq = await seqNow();
    const gutted = await patch(name, 1, { card: { intendedUse: 'Anything you like.' } });
    assert.equal(gutted.status, 403);
    assert.equal(gutted.json.error.code, 'POLICY_UNMET');
    assert.deepEqual(gutted.json.error.details, [{ code: 'CARD_FIELD', message: 'model card field "limitations" is missing' }]);
    const after = await show(name, 1);
    assert.equal(after.recordDigest, before.recordDigest);
    assert.equal(after.status, 'approved');
    const entries = (await api(server, 'GET', `/v1/audit?fromSeq=${seq + 1}`)).json.entries;
    assert.deepEqual(
      entries.map((e: { action: string }) => e.action),
      ['denied.versions.update'],
    );
  });

  test('deprecating the version production serves is refused (move the alias first); once it has moved, allowed', async () => {
    const name = 'rec/deprecated';
    for (let i = 1; i <= 2; i++) {
      await register(name, `deprecated-${i}`);
      await approve(name, i);
    }
    await set(name, 'production', 1);
    const seq = await seqNow();
    const refused = await patch(name, 1, { status: 'deprecated' });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.code, 'POLICY_UNMET');
    assert.deepEqual(codes(refused), ['STATUS']);
    assert.match(refused.json.error.message, /cannot be deprecated: move the alias first/);
    assert.equal((await show(name, 1)).status, 'approved');
    const entries = (await api(server, 'GET', `/v1/audit?fromSeq=${seq + 1}`)).json.entries;
    assert.deepEqual(
      entries.map((e: { action: string }) => e.action),
      ['denied.versions.update'],
    );
    // With and without a record change in the same request: the same refusal.
    const withEdit = await patch(name, 1, { status: 'deprecated', card: { ...card, limitations: 'EU data only; old' } });
    assert.equal(withEdit.status, 403);
    assert.equal((await set(name, 'production', 2)).status, 200);
    const allowed = await patch(name, 1, { status: 'deprecated' });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.json.status, 'deprecated');
    // And a deprecated version cannot come back through rollback.
    const back = await rollback(name, 'production');
    assert.equal(back.status, 403);
    assert.deepEqual(codes(back), ['STATUS']);
  });
});

describe('retire', () => {
  test('final: no alias may point at it again, rollback skips it, bytes stay downloadable by digest', async () => {
    const name = 'ret/model';
    for (let i = 1; i <= 3; i++) {
      await register(name, `ret-${i}`);
      await approve(name, i);
    }
    for (const v of [1, 2, 3]) await set(name, 'production', v);
    const held = await as(server, approver, 'POST', `/v1/models/${name}/versions/3/retire`, { reason: 'leaks PII' });
    assert.equal(held.status, 409, 'a version an alias points at cannot be retired');
    assert.equal(held.json.error.code, 'VERSION_IN_USE');

    const retired = await as(server, approver, 'POST', `/v1/models/${name}/versions/2/retire`, { reason: 'leaks PII' });
    assert.equal(retired.status, 200);
    assert.equal(retired.json.status, 'retired');
    const byWriter = await as(server, writer, 'POST', `/v1/models/${name}/versions/1/retire`, {});
    assert.equal(byWriter.status, 403);

    // Unprotected aliases too.
    const staging = await set(name, 'staging', 2, writer);
    assert.equal(staging.status, 403);
    assert.deepEqual(codes(staging), ['STATUS']);
    const ociTag = await ociPut(name, 'staging', generateManifest(await show(name, 2)).bytes, writer);
    assert.equal(ociTag.status, 403);
    assert.equal((await rollback(name, 'production', { toVersion: 2 })).status, 403);
    // The default rollback passes over v2 to v1.
    const rolled = await rollback(name, 'production');
    assert.equal(rolled.status, 200, JSON.stringify(rolled.json));
    assert.equal(rolled.json.version, 1);

    const edit = await patch(name, 2, { card: { ...card, evaluation: 'x' } });
    assert.equal(edit.status, 409);
    assert.equal(edit.json.error.code, 'VERSION_RETIRED');
    const v2 = await show(name, 2);
    const blob = await api(server, 'GET', `/v1/blobs/${v2.files[0].digest}`);
    assert.equal(blob.status, 200);
    assert.equal(blob.text, 'ret-2');
    assert.equal((await api(server, 'GET', `/v1/resolve/${name}@${v2.digest}`)).json.version, 2);
    const del = await api(server, 'DELETE', `/v1/models/${name}/versions/2`, { reason: 'cleanup' });
    assert.equal(del.status, 409);
    assert.equal(del.json.error.code, 'VERSION_RETAINED');
  });
});
