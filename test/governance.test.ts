import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { after, before, describe, test } from 'node:test';
import { api, sha256, uploadBlob, registerFiles } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

let server: TestServer;
let writer: string;
let writer2: string;
let approver: string;
let approver2: string;

before(async () => {
  server = await startServer();
  writer = (await createToken(server, 'writer-wendy', 'writer')).token;
  writer2 = (await createToken(server, 'writer-walt', 'writer')).token;
  approver = (await createToken(server, 'approver-ada', 'approver')).token;
  approver2 = (await createToken(server, 'approver-bob', 'approver')).token;
});
after(async () => {
  await server.dispose();
});

const card = { intendedUse: 'score card transactions', limitations: 'not for wire transfers; biased toward EU data' };

async function register(token: string, name: string, content: string, extra: Record<string, unknown> = {}) {
  return registerFiles(server, name, { 'model.bin': content }, { token, extra });
}

describe('version records', () => {
  test('metadata, lineage, metrics and card are kept, updated with history, never the file list', async () => {
    // The lineage parent must exist (issue #15: validated lineage).
    for (const n of [1, 2, 3]) await register(writer, 'rec/base', `rec-base-${n}`);
    const v = await register(writer, 'rec/model', 'rec-1', {
      metadata: { framework: 'pytorch', architecture: 'resnet50', parameters: 25_600_000, notes: 'free form' },
      lineage: {
        datasets: [{ name: 'tx-2025', digest: sha256('dataset') }, { uri: 's3://bucket/holdout.parquet' }],
        code: { repo: 'git@example.com:risk/fraud.git', commit: 'a1b2c3d' },
        parent: 'rec/base@v3',
        trainingRunId: 'run-42',
      },
      metrics: { auc: { value: 0.93, dataset: 'holdout', split: 'test' }, loss: 0.21 },
      card,
    });
    assert.equal(v.metadata.framework, 'pytorch');
    assert.equal(v.lineage.code.commit, 'a1b2c3d');
    assert.deepEqual(v.metrics.loss, { value: 0.21 });
    assert.equal(v.card.intendedUse, card.intendedUse);
    assert.equal(v.createdBy, 'writer-wendy');

    const patched = await as(server, writer2, 'PATCH', '/v1/models/rec/model/versions/1', {
      metrics: { auc: { value: 0.95, dataset: 'holdout', split: 'test' } },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.json.metrics.auc.value, 0.95);
    assert.equal(patched.json.digest, v.digest);
    const refused = await as(server, writer, 'PATCH', '/v1/models/rec/model/versions/1', { files: [] });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error.code, 'VALIDATION_FAILED');

    const history = await as(server, writer, 'GET', '/v1/models/rec/model/versions/1/history');
    assert.deepEqual(
      history.json.events.map((e: { action: string }) => e.action),
      ['register', 'update'],
    );
    assert.equal(history.json.events[1].actor.name, 'writer-walt');
    assert.equal(history.json.events[1].changes.metrics.before.auc.value, 0.93);
    assert.equal(history.json.events[1].changes.metrics.after.auc.value, 0.95);
  });

  test('wrong types, unknown fields and oversized records are refused, nothing changes, the refusal is audited', async () => {
    await register(writer, 'rec/bad', 'bad-1');
    const cases: [unknown, string][] = [
      [{ metrics: { auc: 'high' } }, 'VALIDATION_FAILED'],
      [{ card: { intendedUse: 'x', mood: 'happy' } }, 'VALIDATION_FAILED'],
      [{ lineage: { parent: 'not a ref' } }, 'VALIDATION_FAILED'],
      [{ metadata: { blob: 'x'.repeat(70_000) } }, 'VALIDATION_FAILED'],
      [{ card: { limitations: 'y'.repeat(20_000) } }, 'VALIDATION_FAILED'],
      [{ colour: 'red' }, 'VALIDATION_FAILED'],
      [{}, 'VALIDATION_FAILED'],
    ];
    for (const [body, code] of cases) {
      const res = await as(server, writer, 'PATCH', '/v1/models/rec/bad/versions/1', body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(res.json.error.code, code);
    }
    const v = await as(server, writer, 'GET', '/v1/models/rec/bad/versions/1');
    assert.deepEqual(v.json.metadata, {});
    const audit = await api(server, 'GET', '/v1/audit?action=denied&actor=writer-wendy');
    assert.ok(audit.json.entries.filter((e: { target: string }) => e.target.includes('rec/bad')).length >= cases.length);
  });

  test('models have owner, tags and description and are searchable', async () => {
    const created = await as(server, writer, 'POST', '/v1/models', {
      name: 'search/alpha',
      owner: 'team-risk',
      tags: ['fraud', 'tabular'],
      description: 'alpha',
    });
    assert.equal(created.status, 201);
    assert.equal((await as(server, writer, 'POST', '/v1/models', { name: 'search/alpha' })).status, 409);
    await as(server, writer, 'POST', '/v1/models', { name: 'search/beta', owner: 'team-growth', tags: ['tabular'] });
    await register(writer, 'search/beta', 'beta-1');
    await as(server, writer, 'PUT', '/v1/models/search/beta/aliases/staging', { version: 1 });
    const byTag = await api(server, 'GET', '/v1/models?prefix=search/&tag=tabular');
    assert.deepEqual(
      byTag.json.models.map((m: { name: string }) => m.name),
      ['search/alpha', 'search/beta'],
    );
    const byOwner = await api(server, 'GET', '/v1/models?owner=team-risk');
    assert.deepEqual(
      byOwner.json.models.map((m: { name: string }) => m.name),
      ['search/alpha'],
    );
    const byAlias = await api(server, 'GET', '/v1/models?prefix=search/&alias=staging');
    assert.deepEqual(
      byAlias.json.models.map((m: { name: string }) => m.name),
      ['search/beta'],
    );
    const patched = await as(server, writer, 'PATCH', '/v1/models/search/alpha', { tags: ['fraud'] });
    assert.deepEqual(patched.json.tags, ['fraud']);
  });
});

describe('approvals and policy gates', () => {
  test('production needs an approval by someone other than the registrant and a card', async () => {
    await register(writer, 'gate/model', 'gate-1');
    const set = (token: string, version: number) => as(server, token, 'PUT', '/v1/models/gate/model/aliases/production', { version });

    const byWriter = await set(writer, 1);
    assert.equal(byWriter.status, 403, 'writers cannot move a protected alias');
    assert.equal(byWriter.json.error.code, 'FORBIDDEN');

    const unmet = await set(approver, 1);
    assert.equal(unmet.status, 403);
    assert.equal(unmet.json.error.code, 'POLICY_UNMET');
    const codes = unmet.json.error.details.map((d: { code: string }) => d.code).sort();
    assert.deepEqual(codes, ['APPROVALS', 'CARD_FIELD', 'CARD_FIELD', 'STAGE']);
    // The default promotion path: production only after staging, shadow or canary.
    assert.ok(
      unmet.json.error.details.some((d: { message: string }) => d.message === 'must first have held one of @staging, @shadow, @canary'),
    );
    await stage(server, writer, 'gate/model', 1);

    const approved = await as(server, approver, 'POST', '/v1/models/gate/model/versions/1/approvals', {
      decision: 'approve',
      comment: 'looks fine',
    });
    assert.equal(approved.status, 201);
    assert.equal(approved.json.status, 'approved');
    const twice = await as(server, approver, 'POST', '/v1/models/gate/model/versions/1/approvals', { decision: 'approve' });
    assert.equal(twice.status, 409);
    assert.equal(twice.json.error.code, 'ALREADY_DECIDED');

    const stillNoCard = await set(approver, 1);
    assert.equal(stillNoCard.status, 403);
    assert.deepEqual(
      stillNoCard.json.error.details.map((d: { code: string }) => d.code),
      ['CARD_FIELD', 'CARD_FIELD'],
    );
    // Adding the card changes the record the approval was given on: the approval is void.
    const edited = await as(server, writer, 'PATCH', '/v1/models/gate/model/versions/1', { card });
    assert.equal(edited.json.status, 'registered');
    const voided = await set(approver, 1);
    assert.equal(voided.status, 403);
    assert.deepEqual(
      voided.json.error.details.map((d: { code: string }) => d.code),
      ['APPROVALS'],
    );
    const again = await as(server, approver, 'POST', '/v1/models/gate/model/versions/1/approvals', {
      decision: 'approve',
      comment: 'card reviewed',
    });
    assert.equal(again.status, 201, 'a decision on the new record is not a repeat');
    const ok = await set(approver, 1);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal((await api(server, 'GET', '/v1/resolve/gate/model@production')).json.version, 1);
  });

  test('an approver cannot approve a version they registered', async () => {
    const v = await register(approver, 'gate/self', 'self-1', { card });
    const self = await as(server, approver, 'POST', `/v1/models/gate/self/versions/${v.version}/approvals`, { decision: 'approve' });
    assert.equal(self.status, 403);
    assert.equal(self.json.error.code, 'SEPARATION_OF_DUTIES');
    await stage(server, approver, 'gate/self', v.version);
    const set = await as(server, approver, 'PUT', '/v1/models/gate/self/aliases/production', { version: v.version });
    assert.equal(set.status, 403);
    assert.equal(set.json.error.code, 'POLICY_UNMET');
    const audit = await api(server, 'GET', '/v1/audit?action=denied&actor=approver-ada');
    assert.ok(audit.json.entries.some((e: { details: { code: string } }) => e.details.code === 'SEPARATION_OF_DUTIES'));
  });

  test('rejected and deprecated versions cannot be promoted, by set or by rollback; rollback to an unchanged former holder is allowed and audited', async () => {
    for (let i = 1; i <= 3; i++) await register(writer, 'gate/roll', `roll-${i}`, { card });
    for (let i = 1; i <= 3; i++) {
      await as(server, approver, 'POST', `/v1/models/gate/roll/versions/${i}/approvals`, { decision: 'approve' });
      await stage(server, writer, 'gate/roll', i);
    }
    const set = (v: number) => as(server, approver, 'PUT', '/v1/models/gate/roll/aliases/production', { version: v });
    const rollback = (body: Record<string, unknown>) =>
      as(server, approver, 'POST', '/v1/models/gate/roll/aliases/production/rollback', body);
    assert.equal((await set(1)).status, 200);
    assert.equal((await set(2)).status, 200);
    const rolled = await rollback({ reason: 'v2 regressed' });
    assert.equal(rolled.status, 200, JSON.stringify(rolled.json));
    assert.equal(rolled.json.version, 1);
    assert.equal((await set(2)).status, 200);

    // v1 is deprecated after it served production: neither a rollback nor a set may return to it.
    await as(server, writer, 'PATCH', '/v1/models/gate/roll/versions/1', { status: 'deprecated' });
    const toDeprecated = await rollback({ reason: 'again' });
    assert.equal(toDeprecated.status, 403);
    assert.deepEqual(toDeprecated.json.error.details, [{ code: 'STATUS', message: 'version is deprecated' }]);
    assert.equal((await set(1)).status, 403);

    // v3 never held production; rejected now, it may not get there by set or by rollback.
    const rejected = await as(server, approver2, 'POST', '/v1/models/gate/roll/versions/3/approvals', {
      decision: 'reject',
      comment: 'bias',
    });
    assert.equal(rejected.json.status, 'rejected');
    const toThree = await set(3);
    assert.equal(toThree.status, 403);
    assert.ok(toThree.json.error.details.some((d: { code: string }) => d.code === 'STATUS'));
    const rollToThree = await rollback({ toVersion: 3 });
    assert.equal(rollToThree.status, 403);
    assert.equal((await api(server, 'GET', '/v1/resolve/gate/roll@production')).json.version, 2);

    const audit = await api(server, 'GET', '/v1/audit?model=gate/roll&action=alias');
    const moves = audit.json.entries.filter((e: { target: string }) => e.target === 'gate/roll@production');
    assert.deepEqual(
      moves.map((e: { action: string; details: { to: number } }) => [e.action, e.details.to]),
      [
        ['alias.set', 1],
        ['alias.set', 2],
        ['alias.rollback', 1],
        ['alias.set', 2],
      ],
    );
    assert.equal(moves[2].details.reason, 'v2 regressed');
  });

  test('metric thresholds from the configuration', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelgate-policy-'));
    const file = join(dir, 'policy.yaml');
    await writeFile(file, 'policy:\n  aliases:\n    canary:\n      approvals: 0\n      metrics: ["auc >= 0.9", "latency_ms < 50"]\n');
    const strict = await startServer({ args: ['--config', file] });
    try {
      const w = (await createToken(strict, 'w', 'writer')).token;
      const a = (await createToken(strict, 'a', 'approver')).token;
      const reg = async (content: string, metrics: Record<string, number>) => {
        const digest = await uploadBlob(strict, Buffer.from(content));
        return (await as(strict, w, 'POST', '/v1/models/m/versions', { files: [{ path: 'f', size: content.length, digest }], metrics }))
          .json;
      };
      await reg('low', { auc: 0.85 });
      await reg('high', { auc: 0.92, latency_ms: 20 });
      const low = await as(strict, a, 'PUT', '/v1/models/m/aliases/canary', { version: 1 });
      assert.equal(low.status, 403);
      assert.deepEqual(
        low.json.error.details.map((d: { message: string }) => d.message),
        ['metric auc = 0.85 does not meet auc >= 0.9', 'metric "latency_ms" is missing (needs latency_ms < 50)'],
      );
      assert.equal((await as(strict, a, 'PUT', '/v1/models/m/aliases/canary', { version: 2 })).status, 200);
      // production is not protected under this configuration: writers may move it.
      assert.equal((await as(strict, w, 'PUT', '/v1/models/m/aliases/production', { version: 1 })).status, 200);
    } finally {
      await strict.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('history', () => {
  test('what an alias pointed at on a given date, and the deployment history', async () => {
    for (let i = 1; i <= 2; i++) await register(writer, 'hist/model', `hist-${i}`);
    const t0 = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await as(server, writer, 'PUT', '/v1/models/hist/model/aliases/staging', { version: 1 });
    await new Promise((r) => setTimeout(r, 30));
    const t1 = new Date();
    await new Promise((r) => setTimeout(r, 30));
    await as(server, writer, 'PUT', '/v1/models/hist/model/aliases/staging', { version: 2 });
    await as(server, writer, 'PUT', '/v1/models/hist/model/aliases/shadow', { version: 2 });
    await as(server, writer, 'DELETE', '/v1/models/hist/model/aliases/shadow');

    const at = async (t: Date) =>
      (await as(server, writer, 'GET', `/v1/models/hist/model/aliases/staging/history?at=${t.toISOString()}`)).json;
    assert.equal((await at(t0)).version, null);
    assert.equal((await at(t1)).version, 1);
    assert.equal((await at(new Date())).version, 2);
    assert.equal((await as(server, writer, 'GET', '/v1/models/hist/model/aliases/staging/history?at=yesterday')).status, 400);

    const deployments = (await as(server, writer, 'GET', '/v1/models/hist/model/deployments')).json.deployments;
    assert.deepEqual(
      deployments.map((d: { alias: string; version: number; until: string | null }) => [d.alias, d.version, d.until === null]),
      [
        ['staging', 1, false],
        ['staging', 2, true],
        ['shadow', 2, false],
      ],
    );
    assert.ok(deployments[0].seconds > 0.02);
  });
});

describe('audit', () => {
  test('every mutation is chained; verify passes; JSONL export; a tampered entry is caught', async () => {
    const verify = await api(server, 'GET', '/v1/audit/verify');
    assert.equal(verify.status, 200);
    assert.equal(verify.json.ok, true);
    assert.ok(verify.json.entries > 10);

    const jsonl = await fetch(`${server.url}/v1/audit?format=jsonl&limit=5`, { headers: { Authorization: `Bearer ${server.token}` } });
    assert.equal(jsonl.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await jsonl.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((e) => e.seq),
      [1, 2, 3, 4, 5],
    );
    assert.equal(jsonl.headers.get('x-next-seq'), '6');
    assert.equal(lines[1].prevHash, lines[0].hash);
    assert.equal(lines[0].action, 'token.create');

    const denied = await as(server, writer, 'GET', '/v1/audit');
    assert.equal(denied.status, 403, 'writers cannot read the audit log');

    // Go around the API: edit one stored entry in LMDB directly, as an attacker with disk access would.
    const env = openLmdb({ path: join(server.dataDir, 'index') });
    const audit = env.openDB({ name: 'audit' });
    const victim = audit.get(7) as { details: Record<string, unknown> };
    await audit.put(7, { ...victim, details: { ...victim.details, tampered: true } });
    await env.close();

    const broken = await api(server, 'GET', '/v1/audit/verify');
    assert.equal(broken.status, 409);
    assert.equal(broken.json.ok, false);
    assert.equal(broken.json.firstBad.seq, 7);
    assert.match(broken.json.firstBad.reason, /does not match its hash/);
    assert.equal((await api(server, 'DELETE', '/v1/audit')).status, 404);
  });
});

describe('upload sessions', () => {
  test('belong to the token that opened them: another writer gets 404, an admin may act', async () => {
    const opened = await as(server, writer, 'POST', '/v1/uploads');
    assert.equal(opened.status, 201);
    const id = opened.json.id as string;
    for (const [method, path] of [
      ['GET', `/v1/uploads/${id}`],
      ['PATCH', `/v1/uploads/${id}`],
      ['PUT', `/v1/uploads/${id}?digest=${sha256('')}`],
      ['DELETE', `/v1/uploads/${id}`],
    ] as const) {
      const res = await as(server, writer2, method, path);
      assert.equal(res.status, 404, `${method} by another writer`);
      assert.equal(res.json.error.code, 'UPLOAD_NOT_FOUND');
    }
    assert.equal((await as(server, writer, 'GET', `/v1/uploads/${id}`)).status, 200);
    assert.equal((await api(server, 'DELETE', `/v1/uploads/${id}`)).status, 204, 'the admin may cancel it');
  });
});
