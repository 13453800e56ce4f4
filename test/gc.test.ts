import assert from 'node:assert/strict';
import { utimes } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { api, sha256, uploadBlob, waitFor, registerFiles } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

let server: TestServer;
let approver: string;
// Retention of ~0.9 s and no grace period: everything eligible goes at once, which is what makes races show.
before(async () => {
  server = await startServer({ env: { MODELGATE_RETENTION_DAYS: '0.00001', MODELGATE_GC_GRACE_SECONDS: '0' } });
  approver = (await createToken(server, 'approver', 'approver')).token;
});
after(async () => {
  await server.dispose();
});

async function register(name: string, files: Record<string, string>, extra: Record<string, unknown> = {}) {
  return registerFiles(server, name, files, { extra });
}

const exists = async (digest: string) =>
  (await fetch(`${server.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: { Authorization: `Bearer ${server.token}` } })).status ===
  200;

test('retention deletes old versions that never held a protected alias; gc sweeps their unreferenced blobs', async () => {
  await register('ret/model', { 'shared.bin': 'shared', 'only-v1.bin': 'only in v1' });
  await register('ret/model', { 'shared.bin': 'shared', 'v2.bin': 'v2' });
  await register('ret/model', { 'v3.bin': 'v3' }, { card: { intendedUse: 'x', limitations: 'y' } });
  await api(server, 'PUT', '/v1/models/ret/model/aliases/staging', { version: 2 });
  // v3 serves production once, then production moves on: v3 must be kept forever.
  await register('ret/model', { 'v4.bin': 'v4' }, { card: { intendedUse: 'x', limitations: 'y' } });
  for (const v of [3, 4]) {
    await as(server, approver, 'POST', `/v1/models/ret/model/versions/${v}/approvals`, { decision: 'approve' });
    // The default promotion path: shadow first (staging keeps v2, which this test needs).
    await stage(server, server.token, 'ret/model', v, 'shadow');
  }
  assert.equal((await as(server, approver, 'PUT', '/v1/models/ret/model/aliases/production', { version: 3 })).status, 200);
  assert.equal((await as(server, approver, 'PUT', '/v1/models/ret/model/aliases/production', { version: 4 })).status, 200);
  const orphan = await uploadBlob(server, Buffer.from('uploaded, never registered'));
  await new Promise((r) => setTimeout(r, 1200));

  const dry = await api(server, 'POST', '/v1/gc', { dryRun: true });
  assert.equal(dry.status, 200);
  assert.deepEqual(
    dry.json.versions.map((v: { version: number }) => v.version),
    [1],
  );
  assert.deepEqual(dry.json.blobs.map((b: { digest: string }) => b.digest).sort(), [sha256('only in v1'), orphan].sort());
  assert.equal(dry.json.bytes, 'only in v1'.length + 'uploaded, never registered'.length);
  assert.equal((await api(server, 'GET', '/v1/models/ret/model/versions/1')).status, 200, 'a dry run deletes nothing');
  assert.ok(await exists(orphan));

  const real = await api(server, 'POST', '/v1/gc', {});
  assert.deepEqual(
    real.json.versions.map((v: { version: number }) => v.version),
    [1],
  );
  assert.equal(real.json.blobs.length, 2);
  assert.equal((await api(server, 'GET', '/v1/models/ret/model/versions/1')).status, 404);
  assert.ok(!(await exists(sha256('only in v1'))));
  assert.ok(!(await exists(orphan)));
  for (const kept of ['shared', 'v2', 'v3', 'v4']) assert.ok(await exists(sha256(kept)), kept);
  for (const v of [2, 3, 4]) assert.equal((await api(server, 'GET', `/v1/models/ret/model/versions/${v}`)).status, 200);

  const deletion = await api(server, 'DELETE', '/v1/models/ret/model/versions/3', { reason: 'cleanup' });
  assert.equal(deletion.status, 409);
  assert.equal(deletion.json.error.code, 'VERSION_RETAINED');
  assert.equal((await api(server, 'DELETE', '/v1/models/ret/model/versions/2', { reason: 'x' })).json.error.code, 'VERSION_IN_USE');

  const audit = await api(server, 'GET', '/v1/audit?model=ret/model&action=version.delete');
  assert.equal(audit.json.entries.length, 1);
  assert.match(audit.json.entries[0].details.reason, /retention/);
  const runs = await api(server, 'GET', '/v1/audit?action=gc');
  assert.equal(runs.json.entries.length, 1, 'a dry run is not recorded as a run');
  assert.equal(runs.json.entries[0].details.blobsDeleted, 2);
});

test('gc racing uploads and registrations never removes a blob that a registered version lists', async () => {
  const stop = { now: false };
  const sweeps = (async () => {
    let n = 0;
    while (!stop.now) {
      const res = await api(server, 'POST', '/v1/gc', {});
      assert.ok(res.status === 200 || res.status === 409, res.text);
      n++;
    }
    return n;
  })();
  const registered: { version: number; digests: string[] }[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      const a = `race ${i} a`;
      const shared = `race shared ${i % 3}`;
      const entries = [];
      for (const content of [a, shared]) {
        const digest = await uploadBlob(server, Buffer.from(content));
        entries.push({ path: content.replace(/ /g, '-'), size: content.length, digest });
      }
      const res = await api(server, 'POST', '/v1/models/race/model/versions', { files: entries });
      // Between upload and registration a sweep may take an unregistered blob (grace 0): then the
      // registration is refused as FILES_INVALID, never accepted with a missing blob.
      if (res.status === 201 || res.status === 200) {
        await api(server, 'PUT', '/v1/models/race/model/aliases/live', { version: res.json.version });
        registered.push({ version: res.json.version, digests: entries.map((e) => e.digest) });
      } else assert.equal(res.json.error.code, 'FILES_INVALID', res.text);
    }
  } finally {
    stop.now = true;
  }
  const runs = await sweeps;
  assert.ok(runs > 0);
  assert.ok(registered.length > 0);
  // Only the version holding @live is protected from retention; every version that still exists
  // must have all its blobs.
  for (const { version, digests } of registered) {
    const v = await api(server, 'GET', `/v1/models/race/model/versions/${version}`);
    if (v.status === 404) continue;
    for (const d of digests) assert.ok(await exists(d), `v${version} lost ${d}`);
  }
  const live = await api(server, 'GET', '/v1/resolve/race/model@live');
  for (const f of live.json.files) assert.ok(await exists(f.digest));
});

test('an upload still streaming while gc runs is committed intact', async () => {
  const data = Buffer.alloc(8 * 1024 * 1024, 3);
  const digest = sha256(data);
  const done = new Promise<number>((resolve, reject) => {
    const req = request(`${server.url}/v1/blobs?digest=${digest}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.token}`, 'Content-Length': String(data.length) },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.write(data.subarray(0, 4 * 1024 * 1024));
    setTimeout(async () => {
      const gc = await api(server, 'POST', '/v1/gc', {});
      assert.equal(gc.status, 200);
      assert.ok(!gc.json.blobs.some((b: { digest: string }) => b.digest === digest));
      req.end(data.subarray(4 * 1024 * 1024));
    }, 200);
  });
  assert.equal(await done, 201);
  assert.ok(await exists(digest));
});

test('uploading a blob that already exists refreshes its age, so a gc with a grace period keeps it for the registration that follows', async () => {
  const graced = await startServer({ env: { MODELGATE_GC_GRACE_SECONDS: '600' } });
  try {
    const data = Buffer.from(`re-uploaded ${Date.now()}`);
    const digest = await uploadBlob(graced, data);
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(join(graced.dataDir, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7)), hourAgo, hourAgo);
    const again = await fetch(`${graced.url}/v1/blobs?digest=${digest}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${graced.token}` },
      body: data,
    });
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { existed: boolean }).existed, true);
    const gc = await api(graced, 'POST', '/v1/gc', {});
    assert.equal(gc.status, 200, gc.text);
    assert.ok(!gc.json.blobs.some((b: { digest: string }) => b.digest === digest), 'gc swept a blob a client had just uploaded again');
    const head = await fetch(`${graced.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: { Authorization: `Bearer ${graced.token}` } });
    assert.equal(head.status, 200);
  } finally {
    await graced.dispose();
  }
});

test('retention keeps what a retained version reaches (components, lineage parents) and the dry run says why', async () => {
  await register('gcs/pretrain', { 'w.bin': 'gcs pretrain' });
  await register('gcs/base', { 'w.bin': 'gcs base 1' });
  await register('gcs/base', { 'w.bin': 'gcs base 2' });
  await register('gcs/lora', { 'a.bin': 'gcs lora' }, { lineage: { parent: 'gcs/pretrain@v1' } });
  const app = await api(server, 'POST', '/v1/models/gcs/app/versions', { components: { base: 'gcs/base@v1', adapter: 'gcs/lora@v1' } });
  assert.equal(app.status, 201, app.text);
  await register('gcs/other', { 'w.bin': 'gcs other' });
  const old = await api(server, 'POST', '/v1/models/gcs/old-stack/versions', { components: { only: 'gcs/other@v1' } });
  assert.equal(old.status, 201, old.text);
  assert.equal((await api(server, 'PUT', '/v1/models/gcs/app/aliases/live', { version: 1 })).status, 200);
  await new Promise((r) => setTimeout(r, 1200)); // past the ~0.9 s retention

  const mine = (list: { name: string; version: number }[]) =>
    list
      .filter((v) => v.name.startsWith('gcs/'))
      .map((v) => `${v.name}@v${v.version}`)
      .sort();
  const dry = await api(server, 'POST', '/v1/gc', { dryRun: true });
  assert.equal(dry.status, 200, dry.text);
  assert.deepEqual(mine(dry.json.versions), ['gcs/base@v2', 'gcs/old-stack@v1', 'gcs/other@v1']);
  const reasons = Object.fromEntries(
    dry.json.keptVersions
      .filter((v: { name: string }) => v.name.startsWith('gcs/'))
      .map((v: { name: string; version: number; reason: string }) => [`${v.name}@v${v.version}`, v.reason]),
  );
  assert.deepEqual(reasons, {
    'gcs/app@v1': 'holds @live',
    'gcs/base@v1': 'is component "base" of gcs/app@v1, which holds @live',
    'gcs/lora@v1': 'is component "adapter" of gcs/app@v1, which holds @live',
    'gcs/pretrain@v1': 'is the lineage parent of gcs/lora@v1, which is component "adapter" of gcs/app@v1, which holds @live',
  });

  // The real run deletes the unreachable stack before the version it pinned, and keeps every reachable blob.
  const real = await api(server, 'POST', '/v1/gc', {});
  assert.equal(real.status, 200, real.text);
  assert.deepEqual(mine(real.json.versions), ['gcs/base@v2', 'gcs/old-stack@v1', 'gcs/other@v1']);
  for (const gone of ['gcs base 2', 'gcs other']) assert.ok(!(await exists(sha256(gone))), gone);
  for (const kept of ['gcs pretrain', 'gcs base 1', 'gcs lora']) assert.ok(await exists(sha256(kept)), kept);
  const resolved = await api(server, 'GET', '/v1/resolve/gcs/app@live');
  assert.equal(resolved.status, 200);
  assert.equal(resolved.json.components.base.files[0].digest, sha256('gcs base 1'));
});

test('retention.evidenceVersionDays: retired and once-protected versions go that long after they last served, audited; by hand still refused', async () => {
  // Evidence may go ~0.9 s after it last served; unprotected versions are kept (retention off).
  const ev = await startServer({ env: { MODELGATE_RETENTION_EVIDENCE_DAYS: '0.00001', MODELGATE_GC_GRACE_SECONDS: '0' } });
  try {
    const approve = (await createToken(ev, 'ev-approver', 'approver')).token;
    const card = { card: { intendedUse: 'x', limitations: 'y' } };
    const reg = async (content: string) => {
      const digest = await uploadBlob(ev, Buffer.from(content));
      const res = await api(ev, 'POST', '/v1/models/ev/model/versions', {
        files: [{ path: 'w.bin', size: content.length, digest }],
        ...card,
      });
      assert.equal(res.status, 201, res.text);
      return res.json.version as number;
    };
    for (const c of ['ev-1', 'ev-2', 'ev-3', 'ev-4']) await reg(c);
    // v1 and v2 serve production in turn (v2 still does); v3 is retired; v4 is plain and unaliased.
    for (const v of [1, 2]) {
      assert.equal((await as(ev, approve, 'POST', `/v1/models/ev/model/versions/${v}/approvals`, { decision: 'approve' })).status, 201);
      await stage(ev, ev.token, 'ev/model', v);
      assert.equal((await as(ev, approve, 'PUT', '/v1/models/ev/model/aliases/production', { version: v })).status, 200);
    }
    assert.equal((await api(ev, 'DELETE', '/v1/models/ev/model/aliases/staging')).status, 200);
    assert.equal((await as(ev, approve, 'POST', '/v1/models/ev/model/versions/3/retire', { reason: 'superseded' })).status, 200);

    // Still evidence for a person: deleting by hand is refused whatever retention says.
    for (const v of [1, 3]) {
      const byHand = await api(ev, 'DELETE', `/v1/models/ev/model/versions/${v}`, { reason: 'cleanup' });
      assert.equal(byHand.status, 409, byHand.text);
      assert.equal(byHand.json.error.code, 'VERSION_RETAINED');
    }
    await waitFor(async () => (await api(ev, 'POST', '/v1/gc', { dryRun: true })).json.versions.length === 2, 10_000, 'evidence to age');
    const dry = await api(ev, 'POST', '/v1/gc', { dryRun: true });
    const reasons = Object.fromEntries(dry.json.keptVersions.map((k: { version: number; reason: string }) => [k.version, k.reason]));
    assert.match(reasons[2], /^holds @production$/);
    assert.equal(reasons[4], undefined, 'unprotected retention is off: v4 is not past it');
    const real = await api(ev, 'POST', '/v1/gc', {});
    assert.deepEqual(real.json.versions.map((v: { version: number }) => v.version).sort(), [1, 3]);
    for (const v of [1, 3]) assert.equal((await api(ev, 'GET', `/v1/models/ev/model/versions/${v}`)).status, 404);
    for (const v of [2, 4]) assert.equal((await api(ev, 'GET', `/v1/models/ev/model/versions/${v}`)).status, 200);
    assert.ok(!(await existsOn(ev, sha256('ev-1'))) && !(await existsOn(ev, sha256('ev-3'))), 'their blobs are swept');

    const deletions = (await api(ev, 'GET', '/v1/audit?model=ev/model&action=version.delete')).json.entries;
    const byTarget = Object.fromEntries(deletions.map((e: { target: string; details: Record<string, string> }) => [e.target, e.details]));
    assert.equal(byTarget['ev/model@v1'].evidence, 'once held protected @production');
    assert.equal(byTarget['ev/model@v3'].evidence, 'is retired');
    assert.match(
      byTarget['ev/model@v1'].reason,
      /^retention: evidence \(once held protected @production\) last served more than 0\.00001 days ago$/,
    );
    // The tables still agree with the log after evidence went.
    assert.equal((await api(ev, 'GET', '/v1/audit/verify')).json.ok, true);
  } finally {
    await ev.dispose();
  }
});

test('stacks.gcKeepsLineageParents false: GC still keeps components, and lets a lineage parent go with its blobs', async () => {
  const off = await startServer({
    env: { MODELGATE_RETENTION_DAYS: '0.00001', MODELGATE_GC_GRACE_SECONDS: '0', MODELGATE_GC_KEEPS_LINEAGE_PARENTS: 'false' },
  });
  const key = (name: string, version: number) => `${name}@v${version}`;
  try {
    const on = async (name: string, text: string, extra: Record<string, unknown> = {}) => {
      const digest = await uploadBlob(off, Buffer.from(text));
      const res = await api(off, 'POST', `/v1/models/${name}/versions`, {
        files: [{ path: 'w.bin', size: Buffer.byteLength(text), digest }],
        ...extra,
      });
      assert.equal(res.status, 201, res.text);
    };
    await on('lp/pretrain', 'lp pretrain');
    await on('lp/tuned', 'lp tuned', { lineage: { parent: 'lp/pretrain@v1' } });
    await on('lp/prompt', 'lp prompt');
    const app = await api(off, 'POST', '/v1/models/lp/app/versions', { components: { model: 'lp/tuned@v1', prompt: 'lp/prompt@v1' } });
    assert.equal(app.status, 201, app.text);
    assert.equal((await api(off, 'PUT', '/v1/models/lp/app/aliases/live', { version: 1 })).status, 200);
    await new Promise((r) => setTimeout(r, 1200)); // past the ~0.9 s retention

    const dry = await api(off, 'POST', '/v1/gc', { dryRun: true });
    assert.equal(dry.status, 200, dry.text);
    assert.deepEqual(
      dry.json.versions.map((v: { name: string; version: number }) => key(v.name, v.version)),
      ['lp/pretrain@v1'],
    );
    const reasons = Object.fromEntries(
      dry.json.keptVersions.map((v: { name: string; version: number; reason: string }) => [key(v.name, v.version), v.reason]),
    );
    assert.deepEqual(reasons, {
      'lp/app@v1': 'holds @live',
      'lp/tuned@v1': 'is component "model" of lp/app@v1, which holds @live',
      'lp/prompt@v1': 'is component "prompt" of lp/app@v1, which holds @live',
    });
    const real = await api(off, 'POST', '/v1/gc', {});
    assert.equal(real.status, 200, real.text);
    assert.equal((await api(off, 'GET', '/v1/models/lp/pretrain/versions/1')).status, 404);
    assert.ok(!(await existsOn(off, sha256('lp pretrain'))), 'its blob is swept');
    const resolved = await api(off, 'GET', '/v1/resolve/lp/app@live');
    assert.equal(resolved.json.components.model.files[0].digest, sha256('lp tuned'));
    assert.equal((await api(off, 'GET', '/v1/audit/verify')).json.ok, true);
  } finally {
    await off.dispose();
  }
});

async function existsOn(s: TestServer, digest: string): Promise<boolean> {
  const res = await fetch(`${s.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: { Authorization: `Bearer ${s.token}` } });
  return res.status === 200;
}
