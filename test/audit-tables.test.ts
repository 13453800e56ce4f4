// `audit verify` checks the tables the service answers from against the chained log (issue #13):
// an alias-history row, an approval, a version record, a version-history row or a token edited
// in the store behind the service's back is reported with the sequence where table and log part.
// The LMDB cases (an alias-history row, an audit entry, an approval, a version record, a
// version-history row, a token) edit the files of a stopped server; the Redis case rewrites the shared log a
// fresh node replays.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { open as openLmdb } from 'lmdb';
import { api, registerFiles } from './harness/http.js';
import { deletePrefix, randomPrefix, startRedis, type TestRedis } from './harness/redis.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

const card = { intendedUse: 'score card transactions', limitations: 'EU data only' };

interface Actors {
  writer: string;
  approver: string;
  readerId: string;
}

async function actors(server: TestServer): Promise<Actors> {
  return {
    writer: (await createToken(server, 'tables-writer', 'writer')).token,
    approver: (await createToken(server, 'tables-approver', 'approver')).token,
    readerId: (await createToken(server, 'tables-reader', 'reader')).id,
  };
}

async function register(server: TestServer, token: string, name: string, content: string): Promise<number> {
  return (await registerFiles(server, name, { 'model.bin': content }, { token, extra: { card }, accept: [201] })).version;
}

/** v1..v3 registered and approved, production → v1 (the seq returned) → v3, and a card edit of v2. */
async function history(
  server: TestServer,
  a: Actors,
  name: string,
): Promise<{ productionToV1: number; approvalOfV3: number; approvals: number[] }> {
  for (let i = 1; i <= 3; i++) await register(server, a.writer, name, `${name}-${i}`);
  const approvals: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const res = await as(server, a.approver, 'POST', `/v1/models/${name}/versions/${i}/approvals`, { decision: 'approve' });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    approvals.push(res.json.seq as number);
  }
  // The default promotion path: each first holds @canary.
  await stage(server, a.writer, name, 1, 'canary');
  await stage(server, a.writer, name, 3, 'canary');
  const first = await as(server, a.approver, 'PUT', `/v1/models/${name}/aliases/production`, { version: 1 });
  assert.equal(first.status, 200, JSON.stringify(first.json));
  assert.equal((await as(server, a.approver, 'PUT', `/v1/models/${name}/aliases/production`, { version: 3 })).status, 200);
  const edit = await as(server, a.writer, 'PATCH', `/v1/models/${name}/versions/2`, { card: { ...card, limitations: 'EU data only; v2' } });
  assert.equal(edit.status, 200, JSON.stringify(edit.json));
  return { productionToV1: first.json.seq as number, approvalOfV3: approvals[2]!, approvals };
}

async function verify(server: TestServer) {
  return api(server, 'GET', '/v1/audit/verify');
}

/** Opens the stopped server's LMDB environment, lets `edit` change tables, closes it. */
async function editLmdb(dataDir: string, edit: (db: (name: string) => ReturnType<ReturnType<typeof openLmdb>['openDB']>) => Promise<void>) {
  const env = openLmdb({ path: join(dataDir, 'index') });
  try {
    await edit((name) => env.openDB({ name }));
  } finally {
    await env.close();
  }
}

describe('audit verify against tampered LMDB tables', () => {
  let server: TestServer;
  let a: Actors;
  let seqs: { productionToV1: number; approvalOfV3: number; approvals: number[] };
  const name = 'tamper/lmdb';

  before(async () => {
    server = await startServer();
    a = await actors(server);
    seqs = await history(server, a, name);
  });
  after(async () => {
    await server.dispose();
  });

  test('an intact store verifies, tables included', async () => {
    const res = await verify(server);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.ok, true);
    assert.equal(res.json.tables.ok, true);
    assert.ok(res.json.tables.rows >= 19, `rows compared: ${res.json.tables.rows}`);
  });

  test('one alias-history row edited (to: 1 → to: 3): history and deployments lie, verify names the sequence', async () => {
    const key = [name, 'production', seqs.productionToV1];
    await server.stop();
    await editLmdb(server.dataDir, async (db) => {
      const events = db('alias-events');
      const row = events.get(key) as { to: number };
      assert.equal(row.to, 1);
      await events.put(key, { ...row, to: 3 });
    });
    await server.restart();

    // What the issue saw: the served answers follow the edited row.
    const deployments = (await api(server, 'GET', `/v1/models/${name}/deployments`)).json.deployments;
    assert.equal(deployments.find((d: { alias: string }) => d.alias === 'production').version, 3);

    const res = await verify(server);
    assert.equal(res.status, 409);
    assert.equal(res.json.ok, false);
    assert.equal(res.json.tables.ok, false);
    assert.equal(res.json.firstBad.seq, seqs.productionToV1);
    assert.match(res.json.firstBad.reason, /aliasEvents/);
    assert.match(res.json.firstBad.reason, /to is 3 in the table but 1 in the log/);
    assert.equal(res.json.tables.total, 1, JSON.stringify(res.json.tables.mismatches));

    // Put it back: the store verifies again.
    await server.stop();
    await editLmdb(server.dataDir, async (db) => {
      const events = db('alias-events');
      await events.put(key, { ...(events.get(key) as object), to: 1 });
    });
    await server.restart();
    assert.equal((await verify(server)).json.ok, true);
  });

  test('one audit entry edited in place (the same move, to: 1 → to: 3, chain not recomputed): verify names its sequence, reads keep serving', async () => {
    const seq = seqs.productionToV1;
    let original: { details: Record<string, unknown> } | undefined;
    await server.stop();
    await editLmdb(server.dataDir, async (db) => {
      const audit = db('audit');
      original = audit.get(seq) as { details: Record<string, unknown> };
      assert.equal(original.details.to, 1);
      await audit.put(seq, { ...original, details: { ...original.details, to: 3 } });
    });
    await server.restart();

    const res = await verify(server);
    assert.equal(res.status, 409);
    assert.equal(res.json.ok, false);
    assert.equal(res.json.firstBad.seq, seq);
    assert.match(res.json.firstBad.reason, /does not match its hash/);
    // The entry as served is the edited one: the chain, not the row, is what gives it away.
    assert.equal((await api(server, 'GET', `/v1/audit?fromSeq=${seq}&limit=1`)).json.entries[0].details.to, 3);
    assert.equal((await api(server, 'GET', `/v1/resolve/${name}@production`)).status, 200);

    await server.stop();
    await editLmdb(server.dataDir, async (db) => {
      await db('audit').put(seq, original);
    });
    await server.restart();
    assert.equal((await verify(server)).json.ok, true);
  });

  test('an approval, a version record, a version-history row, a token and a deleted row: each named with its sequence', async () => {
    const before = (await verify(server)).json;
    assert.equal(before.ok, true);
    let cardEditSeq = 0;
    let tokenSeq = 0;
    let extraAliasSeq = 0;
    await server.stop();
    await editLmdb(server.dataDir, async (db) => {
      // An approval moved to another approver.
      const approvals = db('approvals');
      const approvalKey = [name, 3, seqs.approvalOfV3];
      const approval = approvals.get(approvalKey) as { approver: { id: string; name: string } };
      await approvals.put(approvalKey, { ...approval, approver: { id: 'someone', name: 'someone' } });
      // v1's card rewritten in place (status and everything else left alone).
      const versions = db('versions');
      const v1 = versions.get([name, 1]) as { card: Record<string, string> };
      await versions.put([name, 1], { ...v1, card: { ...v1.card, limitations: 'none' } });
      // v2's edit history row says the card did not change.
      const events = db('version-events');
      for (const { key, value } of events.getRange({ start: [name, 2, 0], end: [name, 2, Number.MAX_SAFE_INTEGER] })) {
        const row = value as { action: string; seq: number; changes?: Record<string, { before: unknown; after: unknown }> };
        if (row.action !== 'update') continue;
        cardEditSeq = row.seq;
        await events.put(key, { ...row, changes: { card: { before: card, after: card } } });
      }
      // The reader token made an admin.
      const tokens = db('tokens');
      const reader = tokens.get(a.readerId) as { role: string };
      await tokens.put(a.readerId, { ...reader, role: 'admin' });
      // An alias move the log never made.
      const meta = db('meta');
      extraAliasSeq = (meta.get('seq') as number) + 1000;
      await db('alias-events').put([name, 'staging', extraAliasSeq], {
        seq: extraAliasSeq,
        name,
        alias: 'staging',
        action: 'set',
        from: null,
        to: 2,
        actor: { id: 'admin', name: 'admin' },
        at: new Date().toISOString(),
      });
    });
    await server.restart();
    tokenSeq = (await api(server, 'GET', `/v1/audit?action=token.create&limit=100`)).json.entries.find(
      (e: { target: string }) => e.target === `token:${a.readerId}`,
    ).seq;

    const res = await verify(server);
    assert.equal(res.status, 409);
    assert.equal(res.json.ok, false);
    const found = (table: string, seq: number) =>
      res.json.tables.mismatches.find((m: { table: string; seq: number }) => m.table === table && m.seq === seq);
    const listing = JSON.stringify(res.json.tables.mismatches, null, 1);
    assert.match(found('approvals', seqs.approvalOfV3)?.reason ?? '', /approver/, listing);
    // The version row is reported at the last entry that wrote it (v1's approval).
    assert.match(found('versions', seqs.approvals[0]!)?.reason ?? '', /tamper\/lmdb@v1: its record hashes to/, listing);
    assert.match(found('versionEvents', cardEditSeq)?.reason ?? '', /change of card/, listing);
    assert.match(found('tokens', tokenSeq)?.reason ?? '', /role is "admin" in the table but "reader" in the log/, listing);
    assert.match(found('aliasEvents', extraAliasSeq)?.reason ?? '', /not in the log/, listing);
    // The chain itself is intact: the break is in the tables, and the first one is named.
    assert.equal(res.json.headSeq, before.headSeq);
    assert.equal(res.json.firstBad.seq, res.json.tables.mismatches[0].seq);
  });
});

describe('audit verify against a forged last-checkpoint record', () => {
  test('a record claiming a later checkpoint (which would stop the schedule) is named with the checkpoint entry', async () => {
    const server = await startServer();
    try {
      const a = await actors(server);
      await register(server, a.writer, 'tamper/checkpoint', 'ckpt-record');
      const taken = await as(server, a.approver, 'POST', '/v1/audit/checkpoints', {});
      assert.equal(taken.status, 201);
      const entrySeq = (await api(server, 'GET', '/v1/audit/checkpoints')).json.latest.entrySeq as number;
      await server.stop();
      await editLmdb(server.dataDir, async (db) => {
        const meta = db('meta');
        const record = meta.get('last-checkpoint') as { entrySeq: number };
        await meta.put('last-checkpoint', { ...record, entrySeq: record.entrySeq + 1000 });
      });
      await server.restart();
      const res = await verify(server);
      assert.equal(res.status, 409);
      const m = res.json.tables.mismatches.find((x: { table: string }) => x.table === 'checkpoint');
      assert.equal(m?.seq, entrySeq, JSON.stringify(res.json.tables.mismatches));
      assert.match(m.reason, new RegExp(`names entry ${entrySeq + 1000}; the log's last checkpoint is entry ${entrySeq}`));
    } finally {
      await server.dispose();
    }
  });
});

describe('audit verify against a tampered Redis log', () => {
  let redis: TestRedis;
  const prefix = randomPrefix();
  const running: TestServer[] = [];
  const dirs: string[] = [];
  const env = () => ({ MODELGATE_CONTROL_BACKEND: 'redis', MODELGATE_REDIS_URL: redis.url, MODELGATE_REDIS_PREFIX: prefix });

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(running.map((s) => s.dispose().catch(() => undefined)));
    await deletePrefix(redis.client, prefix).catch(() => undefined);
    await redis.dispose();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('an alias move rewritten in the shared log (to: 1 → to: 3): a node that replays it fails verify at that sequence', async () => {
    const first = await startServer({ env: env() });
    running.push(first);
    const a = await actors(first);
    const name = 'tamper/redis';
    const { productionToV1 } = await history(first, a, name);
    assert.equal((await verify(first)).json.ok, true);

    // Someone with write access to Redis rewrites the log stream: same ids, one alias row changed,
    // the audit entry of that batch (and so the chain) left as it was.
    const log = `${prefix}log`;
    const entries = (await redis.client.xrange(log, '-', '+')) as [string, string[]][];
    await redis.client.del(log);
    let rewritten = 0;
    for (const [id, fields] of entries) {
      const batch = JSON.parse(fields[1]!) as { seq: number; writes: { table: string; value?: { to?: number } }[] };
      if (batch.seq === productionToV1) {
        for (const w of batch.writes) {
          if (w.table === 'aliasEvents' && w.value?.to === 1) {
            w.value.to = 3;
            rewritten++;
          }
        }
      }
      await redis.client.xadd(log, id, fields[0]!, JSON.stringify(batch));
    }
    assert.equal(rewritten, 1);

    // A node that builds its replica from the log now serves the lie, and verify reports it.
    const dataDir = await mkdtemp(join(tmpdir(), 'modelgate-tamper-'));
    dirs.push(dataDir);
    const fresh = await startServer({ env: env(), dataDir });
    running.push(fresh);
    const res = await verify(fresh);
    assert.equal(res.status, 409, JSON.stringify(res.json));
    assert.equal(res.json.firstBad.seq, productionToV1);
    assert.match(res.json.firstBad.reason, /aliasEvents .*to is 3 in the table but 1 in the log/);
  });
});

describe('audit verify against each table rewritten in the shared Redis log', () => {
  let redis: TestRedis;
  const prefix = randomPrefix();
  const running: TestServer[] = [];
  const dirs: string[] = [];
  const env = () => ({
    MODELGATE_CONTROL_BACKEND: 'redis',
    MODELGATE_REDIS_URL: redis.url,
    MODELGATE_REDIS_PREFIX: prefix,
    // The webhook below points at a closed local port: registration must accept it.
    MODELGATE_WEBHOOKS_ALLOW_PRIVATE: 'true',
  });

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(running.map((s) => s.dispose().catch(() => undefined)));
    await deletePrefix(redis.client, prefix).catch(() => undefined);
    await redis.dispose();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('an approval, a version record, a version-history row, a token, a webhook and a signature: a node that replays the log names each', async () => {
    const first = await startServer({ env: env() });
    running.push(first);
    const a = await actors(first);
    const name = 'tamper/redis-tables';
    const seqs = await history(first, a, name);
    const hook = await api(first, 'POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['version.*'] });
    assert.equal(hook.status, 201, hook.text);
    assert.equal((await verify(first)).json.ok, true);

    // Someone with write access to Redis rewrites the log stream: same ids and the audit entries
    // (so the chain) as they were; one row of each table changed, and a signature row added.
    const log = `${prefix}log`;
    const entries = (await redis.client.xrange(log, '-', '+')) as [string, string[]][];
    await redis.client.del(log);
    type Batch = { seq: number; writes: { table: string; key: unknown; value?: any }[] };
    const rewritten = new Map<string, number>();
    const seen = (table: string, seq: number) => rewritten.set(table, seq);
    for (const [i, [id, fields]] of entries.entries()) {
      const batch = JSON.parse(fields[1]!) as Batch;
      for (const w of batch.writes) {
        if (!w.value) continue;
        if (w.table === 'approvals' && batch.seq === seqs.approvalOfV3) {
          w.value.approver = { ...w.value.approver, name: 'someone-else' };
          seen('approvals', batch.seq);
        } else if (w.table === 'versions' && w.value.name === name && w.value.version === 1) {
          // Every write of v1's row, so the replica ends on a card the log never recorded.
          w.value.card = { ...w.value.card, limitations: 'none' };
          seen('versions', batch.seq);
        } else if (w.table === 'versionEvents' && w.value.action === 'update' && w.value.changes?.card) {
          w.value.changes.card.after = w.value.changes.card.before;
          seen('versionEvents', batch.seq);
        } else if (w.table === 'tokens' && w.value.id === a.readerId) {
          w.value.role = 'admin';
          seen('tokens', batch.seq);
        } else if (w.table === 'webhooks' && w.value.id === hook.json.id) {
          w.value.url = 'http://127.0.0.1:9/elsewhere';
          seen('webhooks', batch.seq);
        }
      }
      if (i === entries.length - 1) {
        // A signature the log never attached, as if v3 had been signed.
        batch.writes.push({
          table: 'signatures',
          key: [name, 3, 'sha256:forged'],
          value: {
            id: 'sha256:forged',
            name,
            version: 3,
            keyId: 'forged',
            rootDigest: 'sha256:0',
            modelName: name,
            addedAt: new Date().toISOString(),
            addedBy: 'nobody',
            bundle: {},
          },
        });
      }
      await redis.client.xadd(log, id, fields[0]!, JSON.stringify(batch));
    }
    assert.deepEqual([...rewritten.keys()].sort(), ['approvals', 'tokens', 'versionEvents', 'versions', 'webhooks']);

    // A node that builds its replica from the log now serves the lies, and verify names each table.
    const dataDir = await mkdtemp(join(tmpdir(), 'modelgate-tamper-'));
    dirs.push(dataDir);
    const fresh = await startServer({ env: env(), dataDir });
    running.push(fresh);
    const res = await verify(fresh);
    assert.equal(res.status, 409, JSON.stringify(res.json));
    assert.equal(res.json.ok, false);
    const listing = JSON.stringify(res.json.tables.mismatches, null, 1);
    const found = (table: string) => res.json.tables.mismatches.filter((m: { table: string }) => m.table === table);
    assert.match(found('approvals')[0]?.reason ?? '', /approver/, listing);
    assert.equal(found('approvals')[0].seq, seqs.approvalOfV3);
    assert.match(found('versions')[0]?.reason ?? '', /tamper\/redis-tables@v1: its record hashes to/, listing);
    assert.match(found('versionEvents')[0]?.reason ?? '', /change of card/, listing);
    assert.equal(found('versionEvents')[0].seq, rewritten.get('versionEvents'));
    assert.match(found('tokens')[0]?.reason ?? '', /role is "admin" in the table but "reader" in the log/, listing);
    assert.equal(found('tokens')[0].seq, rewritten.get('tokens'));
    assert.match(found('webhooks')[0]?.reason ?? '', /url/, listing);
    assert.equal(found('webhooks')[0].seq, rewritten.get('webhooks'));
    assert.match(found('signatures')[0]?.reason ?? '', /signature sha256:forged of tamper\/redis-tables@v3 is not in the log/, listing);
    assert.equal(res.json.firstBad.seq, res.json.tables.mismatches[0].seq);
  });
});
