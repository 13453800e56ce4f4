// Signed checkpoints of the audit chain (issue #13), through the real service and CLI: a single
// node generates its Ed25519 key beside the data directory, publishes the public key at the
// well-known route, signs the head on demand and on a schedule; `audit verify --offline` checks an
// export with nothing but the file and the key, and fails on a wrong key, a truncated or reordered
// export, a wrong expected head and a log rewritten and rechained after a checkpoint. Rotation
// keeps old checkpoints verifying; on Redis a node without the key signs nothing, two nodes
// taking the same head record one checkpoint, and three keyed nodes on a short schedule take one
// checkpoint per period between them (the period's lease in the control store).
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { open as openLmdb } from 'lmdb';
import { auditHash } from '../src/domain/audit-chain.js';
import { keyIdOf } from '../src/domain/checkpoint.js';
import type { AuditEntry } from '../src/domain/types.js';
import { ok, parseJson, runCli } from './harness/cli.js';
import { api, waitFor, registerFiles } from './harness/http.js';
import { deletePrefix, randomPrefix, startRedis, type TestRedis } from './harness/redis.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

const card = { intendedUse: 'score card transactions', limitations: 'EU data only' };

async function register(server: TestServer, token: string, name: string, content: string): Promise<void> {
  await registerFiles(server, name, { 'model.bin': content }, { token, extra: { card }, accept: [201] });
}

/** Rechains entries from the first one on: each entry's prevHash and hash recomputed, as a forger would. */
function rechain(entries: AuditEntry[]): AuditEntry[] {
  let prev = entries[0]!.prevHash;
  return entries.map((e) => {
    const { hash: _old, ...rest } = { ...e, prevHash: prev };
    const hash = auditHash(rest);
    prev = hash;
    return { ...rest, hash };
  });
}

const jsonl = (entries: object[]) => entries.map((e) => JSON.stringify(e)).join('\n') + '\n';

describe('signed checkpoints on one node', () => {
  let server: TestServer;
  let dir: string;
  let writer: string;
  let approver: string;
  const name = 'ckpt/model';
  const cli = (...args: string[]) => runCli([...args, '--server', server.url, '--token', server.token]);

  before(async () => {
    server = await startServer();
    dir = await mkdtemp(join(tmpdir(), 'modelgate-ckpt-'));
    writer = (await createToken(server, 'ckpt-writer', 'writer')).token;
    approver = (await createToken(server, 'ckpt-approver', 'approver')).token;
    await register(server, writer, name, 'ckpt-1');
    await register(server, writer, name, 'ckpt-2');
    assert.equal((await as(server, approver, 'POST', `/v1/models/${name}/versions/1/approvals`, { decision: 'approve' })).status, 201);
    await stage(server, writer, name, 1);
    assert.equal((await as(server, approver, 'PUT', `/v1/models/${name}/aliases/production`, { version: 1 })).status, 200);
  });
  after(async () => {
    await server.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('the key is generated beside the data directory (owner-only) and published at the well-known route without a token', async () => {
    const keyFile = `${server.dataDir}.checkpoint-key.pem`;
    const info = await stat(keyFile);
    assert.equal(info.mode & 0o777, 0o600);
    const key = createPrivateKey(await readFile(keyFile, 'utf8'));
    const res = await fetch(`${server.url}/.well-known/modelgate/checkpoint-keys`);
    assert.equal(res.status, 200);
    const { keys } = (await res.json()) as { keys: { keyId: string; publicKey: string; status: string; algorithm: string }[] };
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.status, 'active');
    assert.equal(keys[0]!.algorithm, 'Ed25519');
    assert.equal(keys[0]!.keyId, keyIdOf(key));
    assert.equal(keyIdOf(createPublicKey(keys[0]!.publicKey)), keyIdOf(key));
  });

  test('on demand: an approver signs the head; again with no change is the same checkpoint; a writer may not', async () => {
    assert.equal((await as(server, writer, 'POST', '/v1/audit/checkpoints', {})).status, 403);
    const head = (await api(server, 'GET', '/v1/audit/verify')).json;
    const first = await as(server, approver, 'POST', '/v1/audit/checkpoints', {});
    assert.equal(first.status, 201, JSON.stringify(first.json));
    assert.equal(first.json.seq, head.headSeq);
    assert.equal(first.json.hash, head.headHash);
    assert.equal(first.json.head, `${head.headSeq}:${head.headHash}`);
    const again = await as(server, approver, 'POST', '/v1/audit/checkpoints', {});
    assert.equal(again.status, 200);
    assert.equal(again.json.created, false);
    assert.equal(again.json.signature, first.json.signature);

    const verify = (await api(server, 'GET', '/v1/audit/verify')).json;
    assert.equal(verify.ok, true);
    assert.equal(verify.checkpoints.verified, 1);
    const list = parseJson(await cli('audit', 'checkpoints', '--json'));
    assert.equal(list.checkpoints.length, 1);
    assert.equal(list.latest.signature, first.json.signature);
  });

  test('offline: an export verifies with the public key and the head kept elsewhere; every way of breaking it is named', async () => {
    await register(server, writer, name, 'ckpt-3');
    const taken = ok(await cli('audit', 'checkpoint'));
    const head = /^head (\S+)$/m.exec(taken.stdout)![1]!;
    // More entries after the checkpoint: chained, not covered.
    await register(server, writer, name, 'ckpt-4');
    const exportFile = join(dir, 'audit.jsonl');
    const keyFile = join(dir, 'key.pem');
    ok(await cli('audit', 'export', '--out', exportFile));
    ok(await runCli(['audit', 'keys', '--server', server.url, '--out', keyFile]));

    // Nothing but the file and the key: no server options at all.
    const good = await runCli(['audit', 'verify', '--offline', exportFile, '--public-key', keyFile, '--expect-head', head]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^export verified offline: \d+ entries/m);
    assert.match(good.stdout, /checkpoint\(s\) signed by ed25519:[0-9a-f]{16}/);
    assert.match(good.stdout, /entries after it are chained but not covered/);

    const text = await readFile(exportFile, 'utf8');
    const entries = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry);
    const checkpointAt = entries.find((e) => e.action === 'audit.checkpoint')!.seq;
    const offline = async (content: string, extra: string[] = [], key = keyFile) => {
      const file = join(dir, `case-${Math.random().toString(16).slice(2)}.jsonl`);
      await writeFile(file, content);
      const run = await runCli(['audit', 'verify', '--offline', file, '--public-key', key, ...extra, '--json']);
      assert.equal(run.code, 1, `expected a failure: ${run.stdout}${run.stderr}`);
      return JSON.parse(run.stdout) as { ok: boolean; firstBad: { seq: number; reason: string } };
    };

    // A wrong public key.
    const otherKey = join(dir, 'other.pem');
    await writeFile(otherKey, generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }));
    assert.match((await offline(text, [], otherKey)).firstBad.reason, /no checkpoint in the export is signed by ed25519:/);

    // Truncated mid-line, and truncated before the expected head.
    const cut = await offline(text.slice(0, text.length - 40));
    assert.match(cut.firstBad.reason, /not a complete JSON entry/);
    const short = await offline(jsonl(entries.slice(0, checkpointAt)), ['--expect-head', `${entries.length}:${entries.at(-1)!.hash}`]);
    assert.match(short.firstBad.reason, /ends at seq \d+, before the expected head/);

    // Reordered.
    const swapped = [...entries];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    const reordered = await offline(jsonl(swapped));
    assert.equal(reordered.firstBad.seq, 4);
    assert.match(reordered.firstBad.reason, /expected sequence 3, found 4/);

    // A wrong expected head.
    const [seq] = head.split(':');
    const wrongHead = await offline(text, ['--expect-head', `${seq}:sha256:${'0'.repeat(64)}`]);
    assert.match(wrongHead.firstBad.reason, /not the expected/);

    // Rewritten and rechained: the alias move to v1 says v2, every hash recomputed. The checkpoint
    // taken after it no longer matches the chain.
    const move = entries.find((e) => e.action === 'alias.set')!;
    const forged = rechain(entries.map((e) => (e.seq === move.seq ? { ...e, details: { ...e.details, to: 2 } } : e)));
    const rechained = await offline(jsonl(forged));
    assert.equal(rechained.firstBad.seq, checkpointAt);
    assert.match(rechained.firstBad.reason, /the log before it was rewritten/);
    // ... with the checkpoint's hash edited to match: its signature no longer verifies.
    const resigned = rechain(
      forged.map((e) => (e.seq === checkpointAt ? { ...e, details: { ...e.details, hash: forged[checkpointAt - 2]!.hash } } : e)),
    );
    assert.match((await offline(jsonl(resigned))).firstBad.reason, /signature does not verify/);
    // ... with the checkpoints dropped and the rest renumbered: nothing signed is left, and the head kept elsewhere differs.
    const renumbered = rechain(forged.filter((e) => e.action !== 'audit.checkpoint').map((e, i) => ({ ...e, seq: i + 1 })));
    assert.match((await offline(jsonl(renumbered))).firstBad.reason, /no checkpoint in the export/);
    assert.match((await offline(jsonl(renumbered), ['--expect-head', head])).firstBad.reason, /not the expected|ends at seq/);
  });

  test('online: a log rewritten and rechained in LMDB behind a checkpoint fails verify at the checkpoint', async () => {
    const before = (await api(server, 'GET', '/v1/audit/verify')).json;
    assert.equal(before.ok, true);
    const checkpointAt = (await api(server, 'GET', '/v1/audit/checkpoints')).json.checkpoints[0].entrySeq as number;
    await server.stop();
    const env = openLmdb({ path: join(server.dataDir, 'index') });
    const audit = env.openDB({ name: 'audit' });
    const meta = env.openDB({ name: 'meta' });
    const all = [...audit.getRange({ start: 1 }).map((e) => e.value as AuditEntry)];
    const original = new Map(all.map((e) => [e.seq, e]));
    const forged = rechain(all.map((e) => (e.action === 'alias.set' ? { ...e, details: { ...e.details, to: 2 } } : e)));
    for (const e of forged) await audit.put(e.seq, e);
    await meta.put('audit-head', { seq: forged.at(-1)!.seq, hash: forged.at(-1)!.hash });
    await env.close();
    await server.restart();
    const res = await api(server, 'GET', '/v1/audit/verify');
    assert.equal(res.status, 409);
    assert.equal(res.json.firstBad.seq, checkpointAt);
    assert.match(res.json.firstBad.reason, /the log before it was rewritten/);

    // Put the original back for the next test.
    await server.stop();
    const env2 = openLmdb({ path: join(server.dataDir, 'index') });
    const audit2 = env2.openDB({ name: 'audit' });
    for (const e of original.values()) await audit2.put(e.seq, e);
    await env2.openDB({ name: 'meta' }).put('audit-head', { seq: all.at(-1)!.seq, hash: all.at(-1)!.hash });
    await env2.close();
    await server.restart();
    assert.equal((await api(server, 'GET', '/v1/audit/verify')).json.ok, true);
  });

  test('rotation: a new key signs, the old one stays published as retired, and both checkpoints verify', async () => {
    const keyFile = `${server.dataDir}.checkpoint-key.pem`;
    const oldKey = createPrivateKey(await readFile(keyFile, 'utf8'));
    const retired = join(dir, 'retired.pem');
    const newKeyFile = join(dir, 'new-key.pem');
    await server.stop();
    await writeFile(retired, createPublicKey(oldKey).export({ format: 'pem', type: 'spki' }));
    await rename(keyFile, join(dir, 'old-private.pem'));
    const { privateKey } = generateKeyPairSync('ed25519');
    await writeFile(newKeyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const rotated = await startServer({
      dataDir: server.dataDir,
      env: { MODELGATE_CHECKPOINT_KEY_FILE: newKeyFile, MODELGATE_CHECKPOINT_RETIRED_KEY_FILES: retired },
    });
    try {
      const keys = (await (await fetch(`${rotated.url}/.well-known/modelgate/checkpoint-keys`)).json()) as {
        keys: { keyId: string; status: string }[];
      };
      assert.deepEqual(
        keys.keys.map((k) => [k.keyId, k.status]),
        [
          [keyIdOf(privateKey), 'active'],
          [keyIdOf(oldKey), 'retired'],
        ],
      );
      await register(rotated, rotated.token, name, 'ckpt-5');
      const taken = await api(rotated, 'POST', '/v1/audit/checkpoints', {});
      assert.equal(taken.status, 201);
      assert.equal(taken.json.keyId, keyIdOf(privateKey));
      const verify = (await api(rotated, 'GET', '/v1/audit/verify')).json;
      assert.equal(verify.ok, true, JSON.stringify(verify.firstBad));
      assert.equal(verify.checkpoints.verified, 3);
      assert.equal(verify.checkpoints.unverifiable, 0);

      const exportFile = join(dir, 'rotated.jsonl');
      const newPub = join(dir, 'new.pem');
      ok(await runCli(['audit', 'export', '--out', exportFile, '--server', rotated.url, '--token', rotated.token]));
      ok(await runCli(['audit', 'keys', '--server', rotated.url, '--out', newPub]));
      const both = parseJson(
        await runCli(['audit', 'verify', '--offline', exportFile, '--public-key', newPub, '--public-key', retired, '--json']),
      );
      assert.equal(both.checkpoints.verified, 3);
    } finally {
      await rotated.stop();
    }
    await server.restart().catch(() => undefined);
  });

  test('a bad --public-key or --expect-head is a usage error, and --offline without a key is refused', async () => {
    const notKey = join(dir, 'not-a-key.pem');
    await writeFile(notKey, 'hello');
    const file = join(dir, 'empty.jsonl');
    await writeFile(file, '');
    const badKey = await runCli(['audit', 'verify', '--offline', file, '--public-key', notKey]);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /not an Ed25519 public key PEM/);
    const noKey = await runCli(['audit', 'verify', '--offline', file]);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /--offline needs --public-key/);
    const badHead = await runCli(['audit', 'verify', '--offline', file, '--public-key', notKey, '--expect-head', '12']);
    assert.equal(badHead.code, 2);
    assert.match(badHead.stderr, /--expect-head must be SEQ:sha256:/);
  });
});

describe('a key file that cannot be created', () => {
  test('stops the start with a message naming the file and the setting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelgate-badkey-'));
    try {
      // A file where the key's folder would be: the key cannot be created under it.
      await writeFile(join(dir, 'not-a-dir'), 'x');
      const keyFile = join(dir, 'not-a-dir', 'key.pem');
      await assert.rejects(
        startServer({ env: { MODELGATE_CHECKPOINT_KEY_FILE: keyFile } }),
        (err: Error) =>
          err.message.includes(`the audit checkpoint key ${keyFile}`) && err.message.includes('MODELGATE_CHECKPOINT_KEY_FILE'),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('scheduled checkpoints', () => {
  test('a node with an interval signs the moved head by itself', async () => {
    const server = await startServer({ env: { MODELGATE_CHECKPOINT_INTERVAL_SECONDS: '1' } });
    try {
      await register(server, server.token, 'ckpt/scheduled', 'scheduled-1');
      let taken: { entrySeq: number } | undefined;
      await waitFor(
        async () => {
          taken = (await api(server, 'GET', '/v1/audit/checkpoints')).json.checkpoints[0];
          return taken !== undefined;
        },
        30_000,
        'a scheduled checkpoint',
      );
      const entry = (await api(server, 'GET', `/v1/audit?fromSeq=${taken!.entrySeq}&limit=1`)).json.entries[0];
      assert.equal(entry.actor.name, 'checkpoint-schedule');
      assert.equal((await api(server, 'GET', '/v1/audit/verify')).json.checkpoints.verified >= 1, true);
    } finally {
      await server.dispose();
    }
  });
});

describe('checkpoints on nodes sharing Redis', () => {
  let redis: TestRedis;
  let dir: string;
  const prefix = randomPrefix();
  const running: TestServer[] = [];

  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'modelgate-ckpt-redis-'));
  });
  after(async () => {
    await Promise.all(running.map((s) => s.dispose().catch(() => undefined)));
    await deletePrefix(redis.client, prefix).catch(() => undefined);
    await redis.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('a node without the key signs nothing; two keyed nodes taking the same head record one checkpoint', async () => {
    const keyFile = join(dir, 'shared.pem');
    await writeFile(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const env = { MODELGATE_CONTROL_BACKEND: 'redis', MODELGATE_REDIS_URL: redis.url, MODELGATE_REDIS_PREFIX: prefix };
    const keyless = await startServer({ env });
    running.push(keyless);
    const a = await startServer({ env: { ...env, MODELGATE_CHECKPOINT_KEY_FILE: keyFile } });
    running.push(a);
    const b = await startServer({ env: { ...env, MODELGATE_CHECKPOINT_KEY_FILE: keyFile } });
    running.push(b);

    await register(a, a.token, 'ckpt/shared', 'shared-1');
    const refused = await api(keyless, 'POST', '/v1/audit/checkpoints', {});
    assert.equal(refused.status, 409);
    assert.equal(refused.json.error.code, 'NO_CHECKPOINT_KEY');
    assert.deepEqual(
      ((await (await fetch(`${keyless.url}/.well-known/modelgate/checkpoint-keys`)).json()) as { keys: unknown[] }).keys,
      [],
    );

    const [ra, rb] = await Promise.all([api(a, 'POST', '/v1/audit/checkpoints', {}), api(b, 'POST', '/v1/audit/checkpoints', {})]);
    assert.deepEqual([ra.status, rb.status].sort(), [200, 201]);
    assert.equal(ra.json.signature, rb.json.signature);
    await waitFor(
      async () => (await api(keyless, 'GET', '/v1/audit/checkpoints')).json.checkpoints.length === 1,
      15_000,
      'the checkpoint on the keyless node',
    );
    assert.equal((await api(a, 'GET', '/v1/audit/checkpoints')).json.checkpoints.length, 1);
  });

  test('on a short schedule three keyed nodes take one checkpoint per period between them, none twice; the keyless node signs nothing', async () => {
    const keyFile = join(dir, 'scheduled.pem');
    await writeFile(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const schedPrefix = randomPrefix();
    const env = {
      MODELGATE_CONTROL_BACKEND: 'redis',
      MODELGATE_REDIS_URL: redis.url,
      MODELGATE_REDIS_PREFIX: schedPrefix,
      MODELGATE_CHECKPOINT_INTERVAL_SECONDS: '1',
      MODELGATE_LOG_LEVEL: 'info',
    };
    try {
      // Started one after another, so their timers run at different phases, as on real nodes.
      const nodes: TestServer[] = [];
      for (const pause of [0, 450, 400]) {
        await new Promise((r) => setTimeout(r, pause));
        const node = await startServer({ env: { ...env, MODELGATE_CHECKPOINT_KEY_FILE: keyFile } });
        running.push(node);
        nodes.push(node);
      }
      const keyless = await startServer({ env });
      running.push(keyless);
      const all = [...nodes, keyless];

      // The chain moves all the time (a token every 100 ms, on each node in turn), so every period
      // has something to sign; the run spans at least eight periods.
      const periods = 8;
      const start = Date.now();
      for (let i = 0; Date.now() - start < periods * 1000 + 500; i++) {
        const node = all[i % all.length]!;
        await createToken(node, `sched-${i}`, 'reader');
        await new Promise((r) => setTimeout(r, 100));
      }
      const writesEnd = Date.now();
      // One more period for the last scheduled checkpoint, then every node has the same log.
      await new Promise((r) => setTimeout(r, 1500));
      const entries: { seq: number; actor: { name: string }; details: { at: string; seq: number } }[] = [];
      for (let from = 1; ; ) {
        const page = (await api(nodes[0]!, 'GET', `/v1/audit?action=audit.checkpoint&fromSeq=${from}&limit=1000`)).json;
        entries.push(...page.entries);
        if (!page.nextSeq) break;
        from = page.nextSeq;
      }
      const scheduled = entries.filter((e) => e.actor.name === 'checkpoint-schedule');
      // Each period is a slot of wall-clock time (floor(at / interval)): none holds two, and the
      // periods after the first checkpoint until the writes stopped hold one each, but for a period
      // whose lease holder was stalled past its middle (it then signs nothing, as documented): under
      // load that can happen, so at most a quarter of them may be empty.
      const slots = new Map<number, number>();
      for (const e of scheduled) {
        const slot = Math.floor(Date.parse(e.details.at) / 1000);
        slots.set(slot, (slots.get(slot) ?? 0) + 1);
      }
      const ats = JSON.stringify(scheduled.map((e) => e.details.at));
      assert.deepEqual(
        [...slots].filter(([, n]) => n > 1),
        [],
        `periods with more than one checkpoint: ${ats}`,
      );
      const first = Math.min(...slots.keys());
      const last = Math.floor(writesEnd / 1000) - 1;
      assert.ok(last - first >= 3, `the schedule ran over several periods: ${ats}`);
      const empty = [];
      for (let slot = first; slot <= last; slot++) if (!slots.has(slot)) empty.push(slot);
      assert.ok(empty.length * 4 <= last - first + 1, `periods without a checkpoint: ${empty.join(', ')} of ${first}..${last}: ${ats}`);
      // No two checkpoints sign the same head.
      assert.equal(new Set(scheduled.map((e) => e.details.seq)).size, scheduled.length);
      // Each checkpoint was signed by one of the keyed nodes (their logs say so, one line each); the keyless node signed none.
      const signedBy = all.map((s) => s.output.filter((l) => l.includes('audit checkpoint signed')).length);
      assert.equal(signedBy[3], 0);
      assert.equal(
        signedBy.reduce((a, b) => a + b, 0),
        scheduled.length,
      );
      assert.equal((await api(nodes[0]!, 'GET', '/v1/audit/verify')).json.checkpoints.verified >= scheduled.length, true);
    } finally {
      await deletePrefix(redis.client, schedPrefix).catch(() => undefined);
    }
  });
});
