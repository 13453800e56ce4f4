// Stacks through the real service: registration with components frozen to digests, the closure
// in one resolve, governance of the stack as a unit, and every refusal of bad input naming the
// offending entry with nothing registered.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { stackDigest } from '../src/domain/stack.js';
import { sortFiles } from '../src/domain/version-digest.js';
import { ok, parseJson, runCli } from './harness/cli.js';
import { api, registerFiles, sha256, uploadBlob, waitFor } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

let server: TestServer;
before(async () => {
  server = await startServer({ env: { MODELGATE_STACK_MAX_DEPTH: '2', MODELGATE_STACK_MAX_COMPONENTS: '6' } });
});
after(async () => {
  await server.dispose();
});

async function stack(
  name: string,
  components: Record<string, string>,
  files: Record<string, string> = {},
  extra: Record<string, unknown> = {},
) {
  const entries = [];
  for (const [path, content] of Object.entries(files)) {
    entries.push({ path, size: Buffer.byteLength(content), digest: await uploadBlob(server, Buffer.from(content)) });
  }
  return api(server, 'POST', `/v1/models/${name}/versions`, { files: entries, components, ...extra });
}

/** The model's version count, to prove a refusal registered nothing. */
async function versionCount(name: string): Promise<number> {
  const res = await api(server, 'GET', `/v1/models/${name}/versions`);
  return res.status === 404 ? 0 : res.json.versions.length;
}

describe('stack registration', () => {
  test('components are resolved and frozen to version digests; the digest covers files and components', async () => {
    const base1 = await registerFiles(server, 'llm/base', { 'model.safetensors': 'base weights 1', 'config.json': '{"layers":2}' });
    const adapter = await registerFiles(server, 'llm/lora', { 'adapter.safetensors': 'lora weights' });
    assert.equal((await api(server, 'PUT', '/v1/models/llm/base/aliases/stable', { version: 1 })).status, 200);

    const res = await stack('app/assistant', { base: 'llm/base@stable', adapter: 'llm/lora@v1' }, { 'prompt.txt': 'You are helpful.' });
    assert.equal(res.status, 201, res.text);
    const v = res.json;
    assert.deepEqual(v.components.base, { name: 'llm/base', version: 1, digest: base1.digest, ref: 'llm/base@stable' });
    assert.deepEqual(v.components.adapter, { name: 'llm/lora', version: 1, digest: adapter.digest, ref: 'llm/lora@v1' });
    const own = sortFiles([{ path: 'prompt.txt', size: 16, digest: sha256('You are helpful.') }]);
    assert.equal(v.digest, stackDigest(own, v.components));
    assert.notEqual(v.digest, stackDigest(own, undefined), 'components change the digest');
    assert.equal(v.size, 16, 'size counts the stack’s own files');

    // Registered again (with the digest reference for the same base) it is the same version.
    const again = await stack(
      'app/assistant',
      { base: `llm/base@${base1.digest}`, adapter: 'llm/lora@v1' },
      { 'prompt.txt': 'You are helpful.' },
    );
    assert.equal(again.status, 200);
    assert.equal(again.json.version, 1);

    // The component's alias moves later: the registered stack keeps its pin and its digest.
    await registerFiles(server, 'llm/base', { 'model.safetensors': 'base weights 2', 'config.json': '{"layers":2}' });
    assert.equal((await api(server, 'PUT', '/v1/models/llm/base/aliases/stable', { version: 2 })).status, 200);
    const shown = await api(server, 'GET', '/v1/models/app/assistant/versions/1');
    assert.equal(shown.json.components.base.version, 1);
    assert.equal(shown.json.digest, v.digest);
    // Registering the same references now makes a new version pinned to the new base.
    const moved = await stack('app/assistant', { base: 'llm/base@stable', adapter: 'llm/lora@v1' }, { 'prompt.txt': 'You are helpful.' });
    assert.equal(moved.status, 201);
    assert.equal(moved.json.version, 2);
    assert.equal(moved.json.components.base.version, 2);
  });

  test('a version without components keeps the flat digest formula byte for byte; a stack digest is the documented one', async () => {
    // Written out by hand, not through src: Hub commit ids, ETags and OCI digests depend on these bytes.
    const hash = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
    const flat = await registerFiles(server, 'fmt/flat', { 'b.bin': 'bee', 'a.json': '{}' });
    assert.equal(
      flat.digest,
      hash(`[{"path":"a.json","size":2,"digest":"${sha256('{}')}"},{"path":"b.bin","size":3,"digest":"${sha256('bee')}"}]`),
    );
    const res = await stack('fmt/stack', { base: 'fmt/flat@v1' }, { 'p.txt': 'P' });
    assert.equal(res.status, 201, res.text);
    assert.equal(
      res.json.digest,
      hash(
        `{"components":[{"name":"base","model":"fmt/flat","digest":"${flat.digest}"}],"files":[{"path":"p.txt","size":1,"digest":"${sha256('P')}"}]}`,
      ),
    );
  });

  test('a stack may have no files of its own, and stacks nest', async () => {
    await registerFiles(server, 'nest/embed', { 'embed.bin': 'embedding model' });
    await registerFiles(server, 'nest/index', { 'index.faiss': 'vectors' });
    const retrieval = await stack('nest/retrieval', { embedding: 'nest/embed@v1', index: 'nest/index@v1' });
    assert.equal(retrieval.status, 201, JSON.stringify(retrieval.json));
    assert.deepEqual(retrieval.json.files, []);
    const app = await stack('nest/app', { retrieval: 'nest/retrieval@v1' }, { 'prompt.txt': 'Answer from the index.' });
    assert.equal(app.status, 201, JSON.stringify(app.json));
    assert.equal(app.json.components.retrieval.digest, retrieval.json.digest);
  });
});

describe('closure resolve', () => {
  test('one call returns the stack and every component transitively; the ETag is the stack digest and 304 works', async () => {
    await registerFiles(server, 'res/embed', { 'embed.bin': 'E1' });
    await registerFiles(server, 'res/index', { 'index.faiss': 'I1', 'meta.json': '{}' });
    assert.equal((await stack('res/retrieval', { embedding: 'res/embed@v1', index: 'res/index@v1' })).status, 201);
    const top = await stack('res/assistant', { retrieval: 'res/retrieval@v1' }, { 'prompt.txt': 'P' });
    assert.equal((await api(server, 'PUT', '/v1/models/res/assistant/aliases/production-like', { version: 1 })).status, 200);

    const res = await api(server, 'GET', '/v1/resolve/res/assistant@production-like');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('etag'), `"${top.json.digest}"`);
    const body = res.json;
    assert.equal(body.digest, top.json.digest);
    assert.deepEqual(
      body.files.map((f: { path: string }) => f.path),
      ['prompt.txt'],
    );
    const retrieval = body.components.retrieval;
    assert.equal(retrieval.name, 'res/retrieval');
    assert.deepEqual(Object.keys(retrieval.components).sort(), ['embedding', 'index']);
    assert.deepEqual(
      retrieval.components.index.files.map((f: { path: string }) => f.path),
      ['index.faiss', 'meta.json'],
    );
    assert.equal(retrieval.components.embedding.files[0].digest, sha256('E1'));
    assert.equal(retrieval.components.embedding.status, 'registered');

    const cached = await api(server, 'GET', '/v1/resolve/res/assistant@production-like', undefined, {
      'If-None-Match': `"${top.json.digest}"`,
    });
    assert.equal(cached.status, 304);

    // A component's change reaches the prepared closure of every stack above it.
    const approver = (await createToken(server, 'closure-approver', 'approver')).token;
    assert.equal((await as(server, approver, 'POST', '/v1/models/res/embed/versions/1/approvals', { decision: 'approve' })).status, 201);
    const fresh = await api(server, 'GET', '/v1/resolve/res/assistant@production-like');
    assert.equal(fresh.json.components.retrieval.components.embedding.status, 'approved');
    assert.equal(fresh.headers.get('etag'), `"${top.json.digest}"`, 'the closure is the same bytes: same ETag');
  });
});

describe('stack refusals name the offending entry and register nothing', () => {
  test('unresolvable, malformed, cyclic, retired, too deep, too large, out of scope', async () => {
    await registerFiles(server, 'bad/base', { 'w.bin': 'bad base' });
    const cases: [string, Record<string, string>, number, string, RegExp][] = [
      ['bad/stack', { base: 'bad/base@production' }, 400, 'COMPONENT_NOT_FOUND', /component "base"/],
      ['bad/stack', { base: 'bad/nothing@v1' }, 400, 'COMPONENT_NOT_FOUND', /component "base"/],
      ['bad/stack', { base: 'not a reference' }, 400, 'COMPONENT_INVALID', /component "base"/],
      ['bad/stack', { Base: 'bad/base@v1' }, 400, 'COMPONENT_INVALID', /component name "Base"/],
      ['bad/base', { self: 'bad/base@v1' }, 400, 'COMPONENT_CYCLE', /component "self"/],
    ];
    for (const [name, components, status, code, message] of cases) {
      const before = await versionCount(name);
      const res = await stack(name, components, { 'w.bin': 'own file' });
      assert.equal(res.status, status, `${JSON.stringify(components)}: ${res.text}`);
      assert.equal(res.json.error.code, code);
      assert.match(res.json.error.message, message);
      assert.equal(await versionCount(name), before, 'nothing registered');
    }

    // A component named like the stack's own top-level folder: a pull could not lay both out.
    const clash = await stack('bad/stack', { tokenizer: 'bad/base@v1' }, { 'tokenizer/vocab.json': '{}' });
    assert.equal(clash.status, 400);
    assert.equal(clash.json.error.code, 'COMPONENT_INVALID');
    assert.match(clash.json.error.message, /component "tokenizer"/);
    assert.equal(await versionCount('bad/stack'), 0);

    // A cycle through another stack: bad/outer includes bad/middle, which includes bad/outer@v1.
    await registerFiles(server, 'bad/outer', { 'w.bin': 'outer 1' });
    assert.equal((await stack('bad/middle', { up: 'bad/outer@v1' })).status, 201);
    const cyclic = await stack('bad/outer', { mid: 'bad/middle@v1' });
    assert.equal(cyclic.status, 400);
    assert.equal(cyclic.json.error.code, 'COMPONENT_CYCLE');
    assert.match(cyclic.json.error.message, /component "mid".*through bad\/middle@v1/);
    assert.equal(await versionCount('bad/outer'), 1);

    // Depth (limit 2 here): a stack of a stack of a stack is one level too many.
    assert.equal((await stack('deep/one', { base: 'bad/base@v1' })).status, 201);
    assert.equal((await stack('deep/two', { one: 'deep/one@v1' })).status, 201);
    const deep = await stack('deep/three', { two: 'deep/two@v1' });
    assert.equal(deep.status, 400);
    assert.equal(deep.json.error.code, 'STACK_TOO_DEEP');
    assert.match(deep.json.error.message, /component "two"/);
    assert.equal(await versionCount('deep/three'), 0);

    // Size (limit 6 component versions in the closure): 3 × (deep/one + its base) = 6 fits, 7 does not.
    assert.equal((await stack('wide/ok', { a: 'deep/one@v1', b: 'deep/one@v1', c: 'deep/one@v1' })).status, 201);
    const wide = await stack('wide/big', { a: 'deep/one@v1', b: 'deep/one@v1', c: 'deep/one@v1', d: 'bad/base@v1' });
    assert.equal(wide.status, 400);
    assert.equal(wide.json.error.code, 'STACK_TOO_LARGE');
    assert.match(wide.json.error.message, /component "d"/);
    assert.equal(await versionCount('wide/big'), 0);

    // A component in a scope the token may not read.
    await registerFiles(server, 'secret/weights', { 'w.bin': 'secret' });
    const scoped = (await createToken(server, 'team-writer', 'writer', 'team/*')).token;
    const digest = await uploadBlob(server, Buffer.from('team prompt'));
    const forbidden = await as(server, scoped, 'POST', '/v1/models/team/app/versions', {
      files: [{ path: 'prompt.txt', size: 11, digest }],
      components: { base: 'secret/weights@v1' },
    });
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json.error.code, 'COMPONENT_FORBIDDEN');
    assert.match(forbidden.json.error.message, /component "base"/);
    assert.equal(await versionCount('team/app'), 0);

    // No files and no components is no version.
    const empty = await api(server, 'POST', '/v1/models/bad/empty/versions', { files: [] });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.error.code, 'VALIDATION_FAILED');
  });

  test('lineage: a parent that does not resolve and a dataset with a bad digest are refused; a parent ref is frozen', async () => {
    await registerFiles(server, 'lin/base', { 'w.bin': 'lineage base' });
    await api(server, 'PUT', '/v1/models/lin/base/aliases/stable', { version: 1 });
    const digest = await uploadBlob(server, Buffer.from('lineage child'));
    const files = [{ path: 'w.bin', size: 13, digest }];
    const missing = await api(server, 'POST', '/v1/models/lin/child/versions', { files, lineage: { parent: 'lin/base@v9' } });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error.code, 'LINEAGE_PARENT_NOT_FOUND');
    assert.match(missing.json.error.message, /lin\/base@v9/);
    const badDataset = await api(server, 'POST', '/v1/models/lin/child/versions', {
      files,
      lineage: { datasets: [{ uri: 's3://ok' }, { name: 'corpus', digest: 'sha256:xyz' }] },
    });
    assert.equal(badDataset.status, 400);
    assert.equal(badDataset.json.error.code, 'VALIDATION_FAILED');
    assert.match(badDataset.json.error.message, /lineage\.datasets\.1\.digest/);
    assert.equal(await versionCount('lin/child'), 0);

    const ok = await api(server, 'POST', '/v1/models/lin/child/versions', { files, lineage: { parent: 'lin/base@stable' } });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.lineage.parent, 'lin/base@v1', 'frozen to the version the alias named');
  });
});

describe('governed as a unit', () => {
  const card = { intendedUse: 'support answers', limitations: 'English only' };

  test('production needs every component to qualify; the refusal lists each; a pinned component cannot be deleted', async () => {
    const approver = (await createToken(server, 'gov-approver', 'approver')).token;
    const approve = (name: string, v: number) =>
      as(server, approver, 'POST', `/v1/models/${name}/versions/${v}/approvals`, { decision: 'approve' });
    const digest = await uploadBlob(server, Buffer.from('gov base'));
    assert.equal(
      (await api(server, 'POST', '/v1/models/gov/base/versions', { files: [{ path: 'w.bin', size: 8, digest }], card })).status,
      201,
    );
    await registerFiles(server, 'gov/prompt', { 'prompt.txt': 'Be brief.' });
    const top = await api(server, 'POST', '/v1/models/gov/assistant/versions', {
      components: { base: 'gov/base@v1', prompt: 'gov/prompt@v1' },
      card,
    });
    assert.equal(top.status, 201, JSON.stringify(top.json));
    assert.equal((await approve('gov/assistant', 1)).status, 201);
    await stage(server, server.token, 'gov/assistant', 1); // the default promotion path (components need not)

    const refused = await as(server, approver, 'PUT', '/v1/models/gov/assistant/aliases/production', { version: 1 });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.code, 'POLICY_UNMET');
    const unmet = refused.json.error.details.map((u: { component?: string; cause?: string }) => `${u.component}:${u.cause}`).sort();
    assert.deepEqual(unmet, ['base:APPROVALS', 'prompt:APPROVALS', 'prompt:CARD_FIELD', 'prompt:CARD_FIELD']);
    assert.match(refused.json.error.message, /component prompt \(gov\/prompt@v1\): model card field "intendedUse" is missing/);
    // The policy status route shows the same list before anyone tries.
    const status = await api(server, 'GET', '/v1/models/gov/assistant/versions/1/policy');
    const production = status.json.aliases.find((a: { alias: string }) => a.alias === 'production');
    assert.equal(production.unmet.length, 4);

    assert.equal((await approve('gov/base', 1)).status, 201);
    assert.equal((await api(server, 'PATCH', '/v1/models/gov/prompt/versions/1', { card })).status, 200);
    assert.equal((await approve('gov/prompt', 1)).status, 201);
    const moved = await as(server, approver, 'PUT', '/v1/models/gov/assistant/aliases/production', { version: 1 });
    assert.equal(moved.status, 200, JSON.stringify(moved.json));

    const del = await api(server, 'DELETE', '/v1/models/gov/prompt/versions/1', { reason: 'cleanup' });
    assert.equal(del.status, 409);
    assert.equal(del.json.error.code, 'VERSION_IN_USE');
    assert.match(del.json.error.message, /gov\/assistant@v1 \(as "prompt"\)/);
    assert.equal((await api(server, 'GET', '/v1/models/gov/prompt/versions/1')).status, 200);
  });

  test('retiring a component marks every stack above it: status in resolve, a watch event, an audit entry; no protected move onto it', async () => {
    const approver = (await createToken(server, 'flag-approver', 'approver')).token;
    await registerFiles(server, 'flag/embed', { 'e.bin': 'flag embed' });
    assert.equal(
      (await api(server, 'POST', '/v1/models/flag/retrieval/versions', { components: { embedding: 'flag/embed@v1' } })).status,
      201,
    );
    assert.equal(
      (await api(server, 'POST', '/v1/models/flag/app/versions', { components: { retrieval: 'flag/retrieval@v1' } })).status,
      201,
    );
    assert.equal((await api(server, 'PUT', '/v1/models/flag/app/aliases/live', { version: 1 })).status, 200);
    assert.equal((await api(server, 'GET', '/v1/resolve/flag/app@live')).json.flaggedComponents, undefined);

    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/watch?models=flag/app`, {
      headers: { Authorization: `Bearer ${server.token}` },
    });
    const messages: any[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    try {
      await waitFor(() => messages.length >= 1, 10_000, 'snapshot');
      const retired = await as(server, approver, 'POST', '/v1/models/flag/embed/versions/1/retire', { reason: 'CVE in tokenizer' });
      assert.equal(retired.status, 200, JSON.stringify(retired.json));
      await waitFor(() => messages.some((m) => m.action === 'version.component-flagged'), 10_000, 'the flag on flag/app');
      const flag = messages.find((m) => m.action === 'version.component-flagged');
      assert.equal(flag.model, 'flag/app');
      assert.equal(flag.version, 1);
      assert.deepEqual(flag.component, { path: 'retrieval/embedding', ref: 'flag/embed@v1', status: 'retired' });
    } finally {
      ws.close();
    }

    const resolved = await api(server, 'GET', '/v1/resolve/flag/app@live');
    assert.deepEqual(resolved.json.flaggedComponents, [
      { component: 'retrieval/embedding', name: 'flag/embed', version: 1, status: 'retired' },
    ]);
    assert.equal(resolved.json.components.retrieval.components.embedding.status, 'retired');
    // The flags are steps of the retire's own entry (one commit), found by their action and by the stack's model.
    const audit = await api(server, 'GET', '/v1/audit?action=version.component-flagged');
    assert.deepEqual(
      audit.json.entries.map((e: { target: string }) => e.target),
      ['flag/embed@v1'],
    );
    const [entry] = audit.json.entries as { action: string; details: { steps: { action: string; target: string }[] } }[];
    assert.equal(entry!.action, 'version.retire');
    assert.deepEqual(entry!.details.steps.map((st) => [st.action, st.target]).sort(), [
      ['version.component-flagged', 'flag/app@v1'],
      ['version.component-flagged', 'flag/retrieval@v1'],
    ]);
    const byStack = await api(server, 'GET', '/v1/audit?model=flag/app&action=version.component-flagged');
    assert.deepEqual(
      byStack.json.entries.map((e: { target: string }) => e.target),
      ['flag/embed@v1'],
    );
    const shown = await api(server, 'GET', '/v1/models/flag/retrieval/versions/1');
    assert.deepEqual(shown.json.flaggedComponents, [{ component: 'embedding', name: 'flag/embed', version: 1, status: 'retired' }]);
    const history = await api(server, 'GET', '/v1/models/flag/retrieval/versions/1/history');
    assert.equal(history.json.events.at(-1).action, 'component');

    const card = { intendedUse: 'x', limitations: 'y' };
    assert.equal((await api(server, 'PATCH', '/v1/models/flag/app/versions/1', { card })).status, 200);
    assert.equal((await as(server, approver, 'POST', '/v1/models/flag/app/versions/1/approvals', { decision: 'approve' })).status, 201);
    const refused = await as(server, approver, 'PUT', '/v1/models/flag/app/aliases/production', { version: 1 });
    assert.equal(refused.status, 403);
    assert.match(refused.json.error.message, /component retrieval\/embedding \(flag\/embed@v1\): version is retired/);

    // The chain and the tables it derives still agree with stacks and flags in them.
    const verify = await api(server, 'GET', '/v1/audit/verify');
    assert.equal(verify.status, 200);
    assert.equal(verify.json.ok, true, JSON.stringify(verify.json));
  });
});

describe('an auditor scoped to a stack', () => {
  test("sees the flag on its stack in a retire of another scope's component, not the component or its reason, and its export still verifies offline", async () => {
    const approver = (await createToken(server, 'aud-flag-approver', 'approver')).token;
    const auditor = (await createToken(server, 'aud-flag-auditor', 'auditor', 'audapp/*')).token;
    const vendorAuditor = (await createToken(server, 'aud-flag-vendor', 'auditor', 'audvendor/*')).token;
    const outsider = (await createToken(server, 'aud-flag-outsider', 'auditor', 'audnone/*')).token;
    await registerFiles(server, 'audvendor/base', { 'w.bin': 'audited base' });
    assert.equal((await stack('audapp/assistant', { base: 'audvendor/base@v1' })).status, 201);
    assert.equal((await stack('audother/bot', { base: 'audvendor/base@v1' })).status, 201);
    const retired = await as(server, approver, 'POST', '/v1/models/audvendor/base/versions/1/retire', { reason: 'CVE-2026-1234' });
    assert.equal(retired.status, 200, JSON.stringify(retired.json));
    assert.equal((await api(server, 'POST', '/v1/audit/checkpoints', {})).status, 201);

    // Stored whole and sealed step by step: an admin sees the retire and both flags.
    const whole = await api(server, 'GET', '/v1/audit?model=audvendor/base&action=version.retire');
    const [stored] = whole.json.entries as { seq: number; seal: string; details: { reason: string; steps: { target: string }[] } }[];
    assert.equal(stored!.seal, 'steps');
    assert.equal(stored!.details.reason, 'CVE-2026-1234');
    assert.deepEqual(stored!.details.steps.map((st) => st.target).sort(), ['audapp/assistant@v1', 'audother/bot@v1']);

    // Found by the stack's model and the flag's action, in part: the flag on its stack whole, the
    // retired component (main step) and the other scope's flag as digests only.
    const byStack = await as(server, auditor, 'GET', '/v1/audit?model=audapp/assistant&action=version.component-flagged');
    assert.equal(byStack.status, 200);
    const [entry] = byStack.json.entries as {
      seq: number;
      action: string;
      target: string;
      partial: boolean;
      mainDigest: string;
      details: { steps: Record<string, unknown>[] };
    }[];
    assert.equal(byStack.json.entries.length, 1);
    assert.equal(entry!.seq, stored!.seq);
    assert.equal(entry!.partial, true);
    assert.deepEqual([entry!.action, entry!.target], ['redacted', '']);
    assert.match(entry!.mainDigest, /^sha256:[0-9a-f]{64}$/);
    const shownSteps = entry!.details.steps.filter((st) => st.redacted !== true) as { target: string; details: { component: string } }[];
    assert.deepEqual(
      shownSteps.map((st) => [st.target, st.details.component]),
      [['audapp/assistant@v1', 'base']],
    );
    assert.equal(entry!.details.steps.filter((st) => st.redacted === true).length, 1);
    const seen = JSON.stringify(entry);
    assert.ok(!seen.includes('CVE-2026-1234') && !seen.includes('audother'), seen);
    // A filter on a step it cannot see finds nothing: not the retire, not the other stack's flag.
    assert.deepEqual((await as(server, auditor, 'GET', '/v1/audit?action=version.retire')).json.entries, []);
    assert.deepEqual((await as(server, auditor, 'GET', '/v1/audit?model=audother/bot')).json.entries, []);
    assert.deepEqual((await as(server, auditor, 'GET', '/v1/audit?model=audvendor/base')).json.entries, []);
    // The component's auditor sees the retire and its reason, the flags on stacks outside its scope as digests.
    const vendor = await as(server, vendorAuditor, 'GET', '/v1/audit?model=audvendor/base&action=version.retire');
    const [vendorView] = vendor.json.entries as {
      action: string;
      partial: boolean;
      details: { reason: string; steps: { redacted?: boolean }[] };
    }[];
    assert.deepEqual([vendorView!.action, vendorView!.details.reason, vendorView!.partial], ['version.retire', 'CVE-2026-1234', true]);
    assert.ok(vendorView!.details.steps.every((st) => st.redacted === true));
    // In a full read it is the same partial view; to a reader of none of its models, only its place in the chain.
    const atSeq = (entries: { seq: number }[]) => entries.find((e) => e.seq === entry!.seq) as Record<string, unknown>;
    const full = await as(server, auditor, 'GET', `/v1/audit?fromSeq=${entry!.seq}&limit=1`);
    assert.deepEqual(atSeq(full.json.entries), entry);
    const other = await as(server, outsider, 'GET', `/v1/audit?fromSeq=${entry!.seq}&limit=1`);
    assert.deepEqual(Object.keys(atSeq(other.json.entries)).sort(), ['hash', 'prevHash', 'redacted', 'seq']);
    assert.deepEqual((await as(server, outsider, 'GET', '/v1/audit?action=version.component-flagged')).json.entries, []);

    // The scoped export, with the retire in part and the rest as hashes, verifies against the published
    // key; a shown step changed or a digest swapped in the file fails at that entry.
    const dir = await mkdtemp(join(tmpdir(), 'modelgate-stack-audit-'));
    try {
      const env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: auditor };
      const exportFile = join(dir, 'audapp.jsonl');
      const keyFile = join(dir, 'key.pem');
      ok(await runCli(['audit', 'export', '--out', exportFile], env));
      ok(await runCli(['audit', 'keys', '--out', keyFile], env));
      const text = await readFile(exportFile, 'utf8');
      const lines = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.find((e) => e.seq === entry!.seq),
        entry,
      );
      assert.ok(!text.includes('CVE-2026-1234'));
      const checkpoints = parseJson(await runCli(['audit', 'checkpoints', '--json'], env));
      const head = `${checkpoints.latest.seq}:${checkpoints.latest.hash}`;
      const run = await runCli(['audit', 'verify', '--offline', exportFile, '--public-key', keyFile, '--expect-head', head]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /1 entries show only their steps inside the export's scope/);
      const tamper = async (change: (e: { details: { steps: Record<string, any>[] }; mainDigest: string }) => void) => {
        const edited = lines.map((e) => (e.seq === entry!.seq ? structuredClone(e) : e));
        change(edited.find((e) => e.seq === entry!.seq));
        const file = join(dir, 'tampered.jsonl');
        await writeFile(file, `${edited.map((e) => JSON.stringify(e)).join('\n')}\n`);
        const bad = await runCli(['audit', 'verify', '--offline', file, '--public-key', keyFile]);
        assert.notEqual(bad.code, 0);
        assert.match(bad.stdout + bad.stderr, new RegExp(`${entry!.seq}`));
      };
      await tamper((e) => {
        e.details.steps.find((st) => st.redacted !== true)!.details.component = 'other';
      });
      await tamper((e) => {
        e.mainDigest = `sha256:${'1'.repeat(64)}`;
      });
      await tamper((e) => {
        const hidden = e.details.steps.findIndex((st) => st.redacted === true);
        e.details.steps.splice(hidden, 1);
      });
      assert.equal((await as(server, auditor, 'GET', '/v1/audit/verify')).json.ok, true);
      assert.equal((await api(server, 'GET', '/v1/audit/verify')).json.ok, true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('stacks through the files route, the Hub API and the OCI API', () => {
  test('the closure is laid out as pull lays it: own files, then <component>/<path>', async () => {
    await registerFiles(server, 'expo/base', { 'model.safetensors': 'expo base', 'config.json': '{}' });
    await registerFiles(server, 'expo/lora', { 'adapter.safetensors': 'expo lora' });
    const stackRes = await stack('expo/app', { base: 'expo/base@v1', adapter: 'expo/lora@v1' }, { 'prompt.txt': 'expo prompt' });
    assert.equal(stackRes.status, 201, stackRes.text);
    assert.equal((await api(server, 'PUT', '/v1/models/expo/app/aliases/live', { version: 1 })).status, 200);
    const expected = ['adapter/adapter.safetensors', 'base/config.json', 'base/model.safetensors', 'prompt.txt'];

    // v1 files route: a component's file by its path under the stack.
    const file = await fetch(`${server.url}/v1/models/expo/app@live/files/base/model.safetensors`, {
      headers: { Authorization: `Bearer ${server.token}` },
    });
    assert.equal(file.status, 200);
    assert.equal(await file.text(), 'expo base');

    // Hub: siblings list the closure, and each resolves (what snapshot_download does).
    const info = await api(server, 'GET', '/api/models/expo/app/revision/live');
    assert.equal(info.status, 200, info.text);
    assert.deepEqual(info.json.siblings.map((s: { rfilename: string }) => s.rfilename).sort(), expected);
    const viaHub = await fetch(`${server.url}/expo/app/resolve/live/adapter/adapter.safetensors`, {
      headers: { Authorization: `Bearer ${server.token}` },
    });
    assert.equal(viaHub.status, 200);
    assert.equal(await viaHub.text(), 'expo lora');

    // OCI: the generated manifest has one layer per closure file, titled with its path; a token
    // scoped to the stack's model reads the components' blobs through the stack's repository.
    const manifest = await api(server, 'GET', '/v2/expo/app/manifests/live', undefined, {
      Accept: 'application/vnd.oci.image.manifest.v1+json',
    });
    assert.equal(manifest.status, 200, manifest.text);
    const titles = manifest.json.layers
      .map((l: { annotations: Record<string, string> }) => l.annotations['org.opencontainers.image.title'])
      .sort();
    assert.deepEqual(titles, expected);
    const scoped = (await createToken(server, 'expo-reader', 'reader', 'expo/app')).token;
    const layer = manifest.json.layers.find(
      (l: { annotations: Record<string, string> }) => l.annotations['org.opencontainers.image.title'] === 'base/model.safetensors',
    );
    const blob = await fetch(`${server.url}/v2/expo/app/blobs/${layer.digest}`, { headers: { Authorization: `Bearer ${scoped}` } });
    assert.equal(blob.status, 200);
    assert.equal(await blob.text(), 'expo base');
    const elsewhere = await fetch(`${server.url}/v2/expo/lora/blobs/${layer.digest}`, { headers: { Authorization: `Bearer ${scoped}` } });
    assert.notEqual(elsewhere.status, 200, 'the scope still ends at its model');
  });
});

describe('more refusals and the impact query', () => {
  test('a retired component is refused at registration, naming it', async () => {
    await registerFiles(server, 'ret/old', { 'w.bin': 'retired component' });
    const approver = (await createToken(server, 'ret-approver', 'approver')).token;
    assert.equal((await as(server, approver, 'POST', '/v1/models/ret/old/versions/1/retire', { reason: 'superseded' })).status, 200);
    const res = await stack('ret/stack', { base: 'ret/old@v1' });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'COMPONENT_RETIRED');
    assert.match(res.json.error.message, /component "base": ret\/old@v1 is retired/);
    assert.equal(await versionCount('ret/stack'), 0);
  });

  test('impact by dataset digest, and only models in the token scope are listed', async () => {
    const dataset = sha256('the imp corpus');
    const blob = await uploadBlob(server, Buffer.from('imp weights'));
    const files = [{ path: 'w.bin', size: 11, digest: blob }];
    const lineage = { datasets: [{ name: 'corpus', digest: dataset }] };
    assert.equal((await api(server, 'POST', '/v1/models/imp/model/versions', { files, lineage })).status, 201);
    assert.equal((await api(server, 'POST', '/v1/models/other/model/versions', { files, lineage })).status, 201);
    assert.equal((await stack('imp/app', { model: 'other/model@v1' })).status, 201);

    const byDataset = await api(server, 'GET', `/v1/impact?target=${dataset}`);
    assert.equal(byDataset.status, 200);
    assert.equal(byDataset.json.kind, 'dataset');
    const listed = (r: { json: { versions: { name: string; relation: string }[] } }) =>
      r.json.versions.map((v) => `${v.name}:${v.relation}`).sort();
    assert.deepEqual(listed(byDataset), ['imp/app:component', 'imp/model:dataset', 'other/model:dataset']);

    // A token scoped to imp/*: the stack above other/model is found through it, other/model itself is not shown.
    const scoped = (await createToken(server, 'imp-reader', 'reader', 'imp/*')).token;
    const seen = await as(server, scoped, 'GET', `/v1/impact?target=${blob}`);
    assert.equal(seen.status, 200);
    assert.deepEqual(listed(seen), ['imp/app:component', 'imp/model:file']);
    const hidden = await as(server, scoped, 'GET', '/v1/impact?target=other/model@v1');
    assert.equal(hidden.status, 404);
    const bad = await api(server, 'GET', '/v1/impact');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'TARGET_INVALID');
  });
});
