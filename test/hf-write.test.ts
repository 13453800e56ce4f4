// The Hugging Face Hub write API, driven by the real @huggingface/hub client (createRepo,
// uploadFiles, commit, deleteFile) against the real service: preupload, the Git LFS batch API,
// the LFS PUT to a capability URL, and the NDJSON commit. A commit registers a version through the
// registry, and a commit to an alias moves it through the same gate as every other alias move.
// Each refusal is checked to store nothing and leave the server serving.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { commit, createRepo, deleteFile, uploadFiles } from '@huggingface/hub';
import { startServer, type TestServer } from './harness/server.js';
import { api, pathRequest, sha256, sha256Hex } from './harness/http.js';
import { as, createToken } from './harness/tokens.js';

const MODEL = 'team/hf-up';

let server: TestServer;
let writer: string;

const blob = (bytes: Buffer | string) => new Blob([typeof bytes === 'string' ? Buffer.from(bytes) : bytes]);

async function versionCount(name: string): Promise<number> {
  const res = await api(server, 'GET', `/v1/models/${name}/versions`);
  return res.status === 200 ? res.json.versions.length : 0;
}

async function stored(digest: string): Promise<boolean> {
  return (await api(server, 'HEAD', `/v1/blobs/${digest}`)).status === 200;
}

/** One LFS batch request as the client sends it; returns the upload href for the object, if any. */
async function batch(token: string | null, name: string, oid: string, size: number) {
  return fetch(`${server.url}/${name}.git/info/lfs/objects/batch`, {
    method: 'POST',
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      Accept: 'application/vnd.git-lfs+json',
      'Content-Type': 'application/vnd.git-lfs+json',
    },
    body: JSON.stringify({ operation: 'upload', transfers: ['basic'], hash_algo: 'sha_256', objects: [{ oid, size }] }),
  });
}

async function hrefFor(token: string, bytes: Buffer): Promise<string> {
  const res = await batch(token, MODEL, sha256Hex(bytes), bytes.length);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { objects: { actions?: { upload: { href: string } } }[] };
  return body.objects[0]!.actions!.upload.href;
}

function commitBody(lines: unknown[]): string {
  return lines.map((l) => JSON.stringify(l)).join('\n');
}

async function rawCommit(revision: string, body: string, token = writer, query = '') {
  return fetch(`${server.url}/api/models/${MODEL}/commit/${encodeURIComponent(revision)}${query}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-ndjson' },
    body,
  });
}

describe('Hugging Face Hub write API (@huggingface/hub)', () => {
  before(async () => {
    server = await startServer();
    // @huggingface/hub sends only tokens that start with hf_: modelgate takes `hf_` + its token.
    writer = `hf_${(await createToken(server, 'hub-writer', 'writer', 'team/*')).token}`;
  });
  after(async () => {
    await server.dispose();
  });

  test('createRepo makes an empty model; a second one is a 409', async () => {
    const created = await createRepo({ repo: MODEL, accessToken: writer, hubUrl: server.url });
    assert.equal(created.repoUrl, `${server.url}/${MODEL}`);
    const model = await api(server, 'GET', `/v1/models/${MODEL}`);
    assert.equal(model.status, 200);
    assert.equal(model.json.owner, 'hub-writer');
    assert.equal(await versionCount(MODEL), 0);
    await assert.rejects(
      createRepo({ repo: MODEL, accessToken: writer, hubUrl: server.url }),
      (err: Error & { statusCode?: number; data?: { url?: string } }) => {
        assert.equal(err.statusCode, 409);
        // huggingface_hub's create_repo(exist_ok=True) reads the url of the 409.
        assert.equal(err.data?.url, `${server.url}/${MODEL}`);
        return true;
      },
    );
    await assert.rejects(createRepo({ repo: 'other/outside', accessToken: writer, hubUrl: server.url }), /scoped to "team\/\*"/);
    assert.equal((await api(server, 'GET', '/v1/models/other/outside')).status, 404);
  });

  test('uploadFiles registers a version with exactly those bytes, readable through v1 and the Hub read API', async () => {
    const weights = randomBytes(1024 * 1024 + 17);
    const out = await uploadFiles({
      repo: MODEL,
      accessToken: writer,
      hubUrl: server.url,
      commitTitle: 'first weights',
      useWebWorkers: false,
      files: [
        { path: 'config.json', content: blob('{"hidden":8}') },
        { path: 'model.safetensors', content: blob(weights) },
        { path: 'tokenizer/vocab.txt', content: blob('a\nb\n') },
      ],
    });
    const v1 = await api(server, 'GET', `/v1/models/${MODEL}/versions/1`);
    assert.equal(v1.status, 200);
    assert.equal(out?.commit.oid, v1.json.digest.slice('sha256:'.length, 'sha256:'.length + 40));
    assert.deepEqual(
      v1.json.files.map((f: { path: string; digest: string; size: number }) => [f.path, f.digest, f.size]),
      [
        ['config.json', sha256('{"hidden":8}'), 12],
        ['model.safetensors', sha256(weights), weights.length],
        ['tokenizer/vocab.txt', sha256('a\nb\n'), 4],
      ],
    );
    assert.equal(v1.json.createdBy, 'hub-writer');
    assert.equal(v1.json.metadata.hubCommit.summary, 'first weights');
    const viaHub = await pathRequest(server.port, 'GET', `/${MODEL}/resolve/main/model.safetensors`, { Authorization: `Bearer ${writer}` });
    assert.equal(viaHub.status, 200);
    assert.ok(viaHub.body.equals(weights));
    // The registration is audited like any other, as the token that committed.
    const audit = await api(server, 'GET', `/v1/audit?model=${encodeURIComponent(MODEL)}`);
    assert.ok(
      audit.json.entries.some(
        (e: { action: string; actor: { name: string } }) => e.action === 'version.register' && e.actor.name === 'hub-writer',
      ),
    );
  });

  test('a second commit applies its operations to the revision: changed and deleted files, the rest carried over; stored blobs are not sent again', async () => {
    const res = await batch(writer, MODEL, sha256Hex('{"hidden":8}'), 12);
    const known = (await res.json()) as { transfer: string; objects: { actions?: unknown }[] };
    assert.equal(known.transfer, 'basic');
    assert.equal(known.objects[0]!.actions, undefined, 'a stored blob needs no upload');
    const parent = (await api(server, 'GET', `/v1/models/${MODEL}/versions/1`)).json.digest.slice(7, 47);
    await commit({
      repo: MODEL,
      accessToken: writer,
      hubUrl: server.url,
      title: 'tune config, drop the vocab',
      parentCommit: parent,
      useWebWorkers: false,
      operations: [
        { operation: 'addOrUpdate', path: 'config.json', content: blob('{"hidden":16}') },
        { operation: 'delete', path: 'tokenizer/vocab.txt' },
      ],
    });
    const v2 = await api(server, 'GET', `/v1/models/${MODEL}/versions/2`);
    assert.deepEqual(
      v2.json.files.map((f: { path: string; digest: string }) => [f.path, f.digest]),
      [
        ['config.json', sha256('{"hidden":16}')],
        ['model.safetensors', (await api(server, 'GET', `/v1/models/${MODEL}/versions/1`)).json.files[1].digest],
      ],
    );
    // Going back to v1's exact files: v1 is those files, and main (the newest version) cannot go back to it.
    const back = await rawCommit(
      'main',
      commitBody([
        { key: 'header', value: { summary: 'revert' } },
        { key: 'file', value: { path: 'config.json', content: Buffer.from('{"hidden":8}').toString('base64'), encoding: 'base64' } },
        { key: 'file', value: { path: 'tokenizer/vocab.txt', content: Buffer.from('a\nb\n').toString('base64'), encoding: 'base64' } },
      ]),
    );
    assert.equal(back.status, 409);
    assert.match(((await back.json()) as { error: string }).error, /are team\/hf-up@v1 .*set a "main" alias/);
    assert.equal(await versionCount(MODEL), 2);
    await deleteFile({ repo: MODEL, accessToken: writer, hubUrl: server.url, path: 'config.json' });
    const v3 = await api(server, 'GET', `/v1/models/${MODEL}/versions/3`);
    assert.deepEqual(
      v3.json.files.map((f: { path: string }) => f.path),
      ['model.safetensors'],
    );
  });

  test('a commit to an alias moves it through the gate: an ungated stage moves, production without approvals is refused and only the version stays', async () => {
    assert.equal((await as(server, writer, 'PUT', `/v1/models/${MODEL}/aliases/staging`, { version: 3 })).status, 200);
    await uploadFiles({
      repo: MODEL,
      accessToken: writer,
      hubUrl: server.url,
      branch: 'staging',
      useWebWorkers: false,
      files: [{ path: 'README.md', content: blob('# staged') }],
    });
    const staging = await api(server, 'GET', `/v1/models/${MODEL}/aliases/staging`);
    assert.equal(staging.json.version, 4);
    const events = (await api(server, 'GET', `/v1/audit?model=${encodeURIComponent(MODEL)}`)).json.entries;
    const move = events.find(
      (e: { action: string; actor: { name: string }; details: { to?: number } }) =>
        e.action === 'alias.set' && e.actor.name === 'hub-writer' && e.details.to === 4,
    );
    assert.ok(move, 'the alias move is audited as the committing token');

    // production: the default policy wants an approval first. The push is refused with the unmet list.
    assert.equal((await api(server, 'PUT', `/v1/models/${MODEL}/aliases/production`, { version: 1, reason: 'seed' })).status, 403);
    const approver = (await createToken(server, 'hub-approver', 'approver', 'team/*')).token;
    const card = { intendedUse: 'test', limitations: 'none' };
    await as(server, writer, 'PATCH', `/v1/models/${MODEL}/versions/4`, { card });
    const approved = await as(server, approver, 'POST', `/v1/models/${MODEL}/versions/4/approvals`, { decision: 'approve', comment: 'ok' });
    assert.equal(approved.status, 201, JSON.stringify(approved.json));
    const seeded = await api(server, 'PUT', `/v1/models/${MODEL}/aliases/production`, { version: 4, reason: 'seed' });
    assert.equal(seeded.status, 200, JSON.stringify(seeded.json));
    const before = await versionCount(MODEL);
    await assert.rejects(
      uploadFiles({
        repo: MODEL,
        accessToken: writer,
        hubUrl: server.url,
        branch: 'production',
        useWebWorkers: false,
        files: [{ path: 'README.md', content: blob('# straight to production') }],
      }),
      (err: Error & { statusCode?: number }) => {
        assert.equal(err.statusCode, 403);
        assert.match(err.message, /registered team\/hf-up@v5 \(commit [0-9a-f]{40}\), but team\/hf-up@production was not moved/);
        return true;
      },
    );
    assert.equal(await versionCount(MODEL), before + 1, 'the version is registered');
    assert.equal((await api(server, 'GET', `/v1/models/${MODEL}/aliases/production`)).json.version, 4, 'production did not move');
  });

  test('refusals store nothing and the server keeps serving', async () => {
    const reader = (await createToken(server, 'hub-reader', 'reader', 'team/*')).token;
    const bytes = randomBytes(4096);
    const digest = sha256(bytes);
    const versions = await versionCount(MODEL);

    // Batch: no token, a reader, a token scoped elsewhere, a model that does not exist, bad input.
    assert.equal((await batch(null, MODEL, sha256Hex(bytes), 4096)).status, 401);
    assert.equal((await batch(reader, MODEL, sha256Hex(bytes), 4096)).status, 403);
    const elsewhere = (await createToken(server, 'elsewhere', 'writer', 'other/*')).token;
    assert.equal((await batch(elsewhere, MODEL, sha256Hex(bytes), 4096)).status, 403);
    assert.equal((await batch(writer, 'team/nope', sha256Hex(bytes), 4096)).status, 404);
    const badOid = await batch(writer, MODEL, 'XYZ', 4096);
    assert.equal(badOid.status, 400);
    assert.match(((await badOid.json()) as { error: string }).error, /oid/);

    // The PUT: a tampered grant, the wrong bytes, then a revoked token's grant.
    const href = await hrefFor(writer, bytes);
    const tampered = href.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const forged = await fetch(tampered, { method: 'PUT', body: bytes });
    assert.equal(forged.status, 401);
    const wrong = await fetch(href, { method: 'PUT', body: randomBytes(4096) });
    assert.equal(wrong.status, 400);
    assert.match(((await wrong.json()) as { error: string }).error, /digest/);
    assert.equal(await stored(digest), false);
    const temp = await createToken(server, 'hub-temp', 'writer', 'team/*');
    const tempHref = await hrefFor(temp.token, bytes);
    assert.equal((await api(server, 'DELETE', `/v1/tokens/${temp.id}`)).status, 200);
    const revoked = await fetch(tempHref, { method: 'PUT', body: bytes });
    assert.equal(revoked.status, 401);
    assert.match(((await revoked.json()) as { error: string }).error, /revoked/);
    assert.equal(await stored(digest), false);

    // Commits: a blob never stored, a stale parent, a fixed revision, an unknown operation, a
    // missing file to delete, a pull request, lines that are not JSON, a reader.
    const header = { key: 'header', value: { summary: 'x' } };
    const unstored = await rawCommit(
      'main',
      commitBody([header, { key: 'lfsFile', value: { path: 'w.bin', algo: 'sha256', oid: sha256Hex(bytes), size: 4096 } }]),
    );
    assert.equal(unstored.status, 400);
    assert.match(((await unstored.json()) as { error: string }).error, /cannot be registered/);
    const stale = await rawCommit(
      'main',
      commitBody([
        { key: 'header', value: { summary: 'x', parentCommit: '0'.repeat(40) } },
        { key: 'file', value: { path: 'a.txt', content: 'YQ==', encoding: 'base64' } },
      ]),
    );
    assert.equal(stale.status, 412);
    const fixed = await rawCommit(
      'v1',
      commitBody([header, { key: 'file', value: { path: 'a.txt', content: 'YQ==', encoding: 'base64' } }]),
    );
    assert.equal(fixed.status, 400);
    assert.match(((await fixed.json()) as { error: string }).error, /names one version for good/);
    const unknown = await rawCommit('main', commitBody([header, { key: 'copyFile', value: { path: 'a', srcPath: 'b' } }]));
    assert.equal(unknown.status, 400);
    const missing = await rawCommit('main', commitBody([header, { key: 'deletedFile', value: { path: 'nope.txt' } }]));
    assert.equal(missing.status, 404);
    const pr = await rawCommit(
      'main',
      commitBody([header, { key: 'file', value: { path: 'a.txt', content: 'YQ==', encoding: 'base64' } }]),
      writer,
      '?create_pr=1',
    );
    assert.equal(pr.status, 400);
    const garbage = await rawCommit('main', 'not json\n');
    assert.equal(garbage.status, 400);
    const preuploadByReader = await fetch(`${server.url}/api/models/${MODEL}/preupload/main`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${reader}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ files: [{ path: 'a.txt', size: 1, sample: 'YQ==' }] }),
    });
    assert.equal(preuploadByReader.status, 403);
    for (const body of ['null', '[]', '{"files":"x"}']) {
      const bad = await fetch(`${server.url}/api/models/${MODEL}/preupload/main`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json' },
        body,
      });
      assert.equal(bad.status, 400, body);
    }
    await assert.rejects(createRepo({ repo: 'team/by-reader', accessToken: `hf_${reader}`, hubUrl: server.url }), /needs the writer role/);
    assert.equal((await api(server, 'GET', '/v1/models/team/by-reader')).status, 404);
    const byReader = await rawCommit(
      'main',
      commitBody([header, { key: 'file', value: { path: 'a.txt', content: 'YQ==', encoding: 'base64' } }]),
      reader,
    );
    assert.equal(byReader.status, 403);
    assert.equal(await versionCount(MODEL), versions, 'no refused commit registered a version');
    assert.equal(await stored(sha256('a')), false, 'no refused commit stored its inline file');

    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });
});
