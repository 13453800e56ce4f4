// The OCI distribution API (/v2/) against a real server: auth challenge, generated and pushed
// manifests, blobs with Range, every upload flow, cross-repository mounts, tag listing, policy
// gates on tag pushes, and the spec's error format.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { generateManifest } from '../src/oci/generate.js';
import { api, registerFiles, sha256 } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { assertOciError, EMPTY_DIGEST, ociRequest, pushOciBlob, putOciManifest, type OciResponse } from './harness/oci.js';
import { OCI_MANIFEST } from './harness/oci-layout.js';
import { createToken } from './harness/tokens.js';

let server: TestServer;
let writer: string;
let reader: string;
let approver: string;
let scopedWriter: string;
let otherReader: string;

before(async () => {
  // No GC grace, so a GC run in these tests sweeps every unreferenced blob at once.
  server = await startServer({ env: { MODELGATE_GC_GRACE_SECONDS: '0' } });
  writer = (await createToken(server, 'oci-writer', 'writer')).token;
  reader = (await createToken(server, 'oci-reader', 'reader')).token;
  approver = (await createToken(server, 'oci-approver', 'approver')).token;
  scopedWriter = (await createToken(server, 'oci-team-writer', 'writer', 'team/*')).token;
  otherReader = (await createToken(server, 'oci-other-reader', 'reader', 'other/*')).token;
});
after(async () => {
  await server.dispose();
});

const basic = (token: string) => `Basic ${Buffer.from(`skopeo:${token}`).toString('base64')}`;

type Res = OciResponse;

/** A request as `opts.token` (the writer unless said; none when null), sent as skopeo sends it: Basic, the token as the password. */
function oci(
  method: string,
  path: string,
  opts: { token?: string | null; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Res> {
  const token = opts.token === undefined ? writer : opts.token;
  return ociRequest(server, method, path, { authorization: token === null ? null : basic(token), headers: opts.headers, body: opts.body });
}

const assertError = (res: Res, status: number, code: string) => assertOciError(res, status, code);

const pushBlob = (repo: string, data: Buffer, token = writer) => pushOciBlob(server, repo, data, basic(token));

/** Gives version 1 of `repo` a model card and the approver's approval: what the default production policy asks beyond a stage. */
async function cardAndApprove(repo: string): Promise<void> {
  const card = await api(server, 'PATCH', `/v1/models/${repo}/versions/1`, { card: { intendedUse: 'tests', limitations: 'none known' } });
  assert.equal(card.status, 200, card.text);
  const approve = await fetch(`${server.url}/v1/models/${repo}/versions/1/approvals`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${approver}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ decision: 'approve' }),
  });
  assert.equal(approve.status, 201, await approve.text());
}

function manifestFor(layers: { data: Buffer; title?: string; mediaType?: string }[], extra: Record<string, unknown> = {}): Buffer {
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: 'application/vnd.example.model.v1',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DIGEST, size: 2 },
    layers: layers.map((l) => ({
      mediaType: l.mediaType ?? 'application/octet-stream',
      digest: sha256(l.data),
      size: l.data.length,
      ...(l.title !== undefined ? { annotations: { 'org.opencontainers.image.title': l.title } } : {}),
    })),
    ...extra,
  };
  // Pretty-printed on purpose: the registry must keep these exact bytes, whitespace included.
  return Buffer.from(JSON.stringify(doc, null, 3) + '\n');
}

const putManifest = (repo: string, ref: string, bytes: Buffer, token = writer, contentType = OCI_MANIFEST) =>
  putOciManifest(server, repo, ref, bytes, basic(token), contentType);

describe('base endpoint and auth', () => {
  test('GET /v2/ challenges with Basic, accepts a token as the Basic password or as Bearer', async () => {
    const anon = await oci('GET', '/v2/', { token: null });
    assertError(anon, 401, 'UNAUTHORIZED');
    assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="modelgate"');
    assert.equal(anon.headers.get('docker-distribution-api-version'), 'registry/2.0');

    const ok = await oci('GET', '/v2/', { token: reader });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, {});
    assert.equal(ok.headers.get('docker-distribution-api-version'), 'registry/2.0');

    const bearer = await oci('GET', '/v2/', { headers: { Authorization: `Bearer ${reader}` } });
    assert.equal(bearer.status, 200);
    const head = await oci('HEAD', '/v2/', { token: reader });
    assert.equal(head.status, 200);

    const bad = await oci('GET', '/v2/', { token: 'mgt_not-a-real-token' });
    assertError(bad, 401, 'UNAUTHORIZED');
    assert.equal(bad.headers.get('www-authenticate'), 'Basic realm="modelgate"');
    const malformed = await oci('GET', '/v2/', { headers: { Authorization: 'Basic !!!' } });
    assertError(malformed, 401, 'UNAUTHORIZED');

    const anonManifest = await oci('GET', '/v2/team/x/manifests/latest', { token: null });
    assertError(anonManifest, 401, 'UNAUTHORIZED');
    assert.equal(anonManifest.headers.get('www-authenticate'), 'Basic realm="modelgate"');
  });

  test('roles and scopes: readers cannot push, scoped tokens see only their models', async () => {
    await registerFiles(server, 'team/scoped', { 'a.bin': 'scoped-a' });
    const denied = await oci('GET', '/v2/team/scoped/manifests/v1', { token: otherReader });
    assertError(denied, 403, 'DENIED');
    const post = await oci('POST', '/v2/team/scoped/blobs/uploads/', { token: reader });
    assertError(post, 403, 'DENIED');
    const put = await putManifest('team/scoped', 'staging', manifestFor([{ data: Buffer.from('scoped-a'), title: 'a.bin' }]), reader);
    assertError(put, 403, 'DENIED');
    // The refusal is audited like any other.
    const audit = await api(server, 'GET', '/v1/audit?action=denied&limit=1000');
    assert.ok(
      audit.json.entries.some((e: any) => e.action === 'denied.oci.manifest.put' && e.actor.name === 'oci-reader'),
      JSON.stringify(audit.json),
    );
  });
});

describe('generated manifests for versions registered through /v1', () => {
  let version: any;
  const files = { 'weights/model.bin': randomBytes(300_000), 'config.json': '{"layers": 4}', 'tokenizer/vocab.txt': 'a\nb\nc\n' };

  before(async () => {
    version = await registerFiles(server, 'team/gen', files);
    const alias = await api(server, 'PUT', '/v1/models/team/gen/aliases/staging', { version: version.version });
    assert.equal(alias.status, 200);
  });

  test('GET/HEAD by v<N>, alias and digest serve the same deterministic OCI image manifest', async () => {
    const byVersion = await oci('GET', `/v2/team/gen/manifests/v${version.version}`, { token: reader, headers: { Accept: OCI_MANIFEST } });
    assert.equal(byVersion.status, 200);
    assert.equal(byVersion.headers.get('content-type'), OCI_MANIFEST);
    const digest = byVersion.headers.get('docker-content-digest')!;
    assert.equal(digest, sha256(byVersion.body));
    // The same bytes as the pure generator: nothing in them depends on time or node.
    assert.equal(digest, generateManifest(version).digest);

    // A version registered now gets a CNCF ModelPack (model-spec v1) manifest.
    const m = byVersion.json;
    assert.equal(version.ociLayout, 'modelpack-v2');
    assert.equal(m.schemaVersion, 2);
    assert.equal(m.mediaType, OCI_MANIFEST);
    assert.equal(m.artifactType, 'application/vnd.cncf.model.manifest.v1+json');
    assert.equal(m.config.mediaType, 'application/vnd.cncf.model.config.v1+json');
    const kinds: Record<string, string> = {
      'config.json': 'application/vnd.cncf.model.weight.config.v1.raw',
      'tokenizer/vocab.txt': 'application/vnd.cncf.model.weight.config.v1.raw',
      'weights/model.bin': 'application/vnd.cncf.model.weight.v1.raw',
    };
    assert.deepEqual(
      m.layers.map((l: any) => [
        l.annotations['org.cncf.model.filepath'],
        l.annotations['org.opencontainers.image.title'],
        l.size,
        l.digest,
        l.mediaType,
      ]),
      version.files.map((f: any) => [f.path, f.path, f.size, f.digest, kinds[f.path]]),
    );
    // The config blob is served through the repository, and says what model-spec's config.md asks.
    const config = await oci('GET', `/v2/team/gen/blobs/${m.config.digest}`, { token: reader });
    assert.equal(config.status, 200);
    assert.equal(sha256(config.body), m.config.digest);
    assert.equal(config.body.length, m.config.size);
    assert.deepEqual(JSON.parse(config.body.toString()), {
      descriptor: { createdAt: version.createdAt, name: 'team/gen', version: `v${version.version}` },
      config: {},
      modelfs: { type: 'layers', diffIds: version.files.map((f: any) => f.digest) },
    });
    const otherScope = await oci('HEAD', `/v2/team/gen/blobs/${m.config.digest}`, { token: otherReader });
    assert.equal(otherScope.status, 403);

    const byAlias = await oci('GET', '/v2/team/gen/manifests/staging', { token: reader });
    assert.equal(byAlias.headers.get('docker-content-digest'), digest);
    assert.deepEqual(byAlias.body, byVersion.body);
    const byDigest = await oci('GET', `/v2/team/gen/manifests/${digest}`, { token: reader });
    assert.equal(byDigest.status, 200);
    assert.deepEqual(byDigest.body, byVersion.body);
    assert.match(byDigest.headers.get('cache-control')!, /immutable/);

    const head = await oci('HEAD', '/v2/team/gen/manifests/staging', { token: reader });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), digest);
    assert.equal(head.headers.get('content-length'), String(byVersion.body.length));
    assert.equal(head.headers.get('content-type'), OCI_MANIFEST);
    assert.equal(head.body.length, 0);
  });

  test('the digest survives a restart', async () => {
    const before = await oci('HEAD', '/v2/team/gen/manifests/staging', { token: reader });
    await server.restart();
    const after = await oci('HEAD', '/v2/team/gen/manifests/staging', { token: reader });
    assert.equal(after.headers.get('docker-content-digest'), before.headers.get('docker-content-digest'));
  });

  test('content negotiation through Accept', async () => {
    const dockerOnly = await oci('GET', '/v2/team/gen/manifests/staging', {
      token: reader,
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    assertError(dockerOnly, 404, 'MANIFEST_UNKNOWN');
    const list = await oci('GET', '/v2/team/gen/manifests/staging', {
      token: reader,
      headers: {
        Accept: `application/vnd.docker.distribution.manifest.v2+json, ${OCI_MANIFEST};q=0.9, application/vnd.oci.image.index.v1+json`,
      },
    });
    assert.equal(list.status, 200);
    const any = await oci('GET', '/v2/team/gen/manifests/staging', { token: reader, headers: { Accept: '*/*' } });
    assert.equal(any.status, 200);
    const excluded = await oci('GET', '/v2/team/gen/manifests/staging', { token: reader, headers: { Accept: `${OCI_MANIFEST};q=0` } });
    assertError(excluded, 404, 'MANIFEST_UNKNOWN');
  });

  test('layers and the empty config are blobs of the repository, with Range', async () => {
    const weights = files['weights/model.bin'];
    const digest = sha256(weights);
    const full = await oci('GET', `/v2/team/gen/blobs/${digest}`, { token: reader });
    assert.equal(full.status, 200);
    assert.deepEqual(full.body, weights);
    assert.equal(full.headers.get('docker-content-digest'), digest);
    const part = await oci('GET', `/v2/team/gen/blobs/${digest}`, { token: reader, headers: { Range: 'bytes=1000-1999' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 1000-1999/${weights.length}`);
    assert.deepEqual(part.body, weights.subarray(1000, 2000));
    const head = await oci('HEAD', `/v2/team/gen/blobs/${digest}`, { token: reader });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(weights.length));

    const empty = await oci('GET', `/v2/team/gen/blobs/${EMPTY_DIGEST}`, { token: reader });
    assert.equal(empty.status, 200);
    assert.equal(empty.body.toString(), '{}');
    assert.equal(empty.headers.get('docker-content-digest'), EMPTY_DIGEST);

    const unknown = await oci('GET', `/v2/team/gen/blobs/${sha256('never uploaded')}`, { token: reader });
    assertError(unknown, 404, 'BLOB_UNKNOWN');
    const unknownHead = await oci('HEAD', `/v2/team/gen/blobs/${sha256('never uploaded')}`, { token: reader });
    assert.equal(unknownHead.status, 404);
    assert.equal(unknownHead.body.length, 0);
  });

  test('a token scoped to other models cannot read this blob through its own repository', async () => {
    await registerFiles(server, 'other/model', { 'x.bin': 'other-x' });
    const digest = sha256(files['config.json']);
    const res = await oci('GET', `/v2/other/model/blobs/${digest}`, { token: otherReader });
    assertError(res, 404, 'BLOB_UNKNOWN');
    const own = await oci('GET', `/v2/other/model/blobs/${sha256('other-x')}`, { token: otherReader });
    assert.equal(own.status, 200);
    // Nor the generated ModelPack config of team/gen (it belongs to that repository only).
    const config = (await oci('GET', '/v2/team/gen/manifests/staging', { token: reader })).json.config.digest;
    assertError(await oci('GET', `/v2/other/model/blobs/${config}`, { token: otherReader }), 404, 'BLOB_UNKNOWN');
  });
});

describe('blob uploads', () => {
  test('chunked upload with Content-Range, status, an out-of-order chunk, last chunk in the PUT', async () => {
    const data = randomBytes(30_000);
    const start = await oci('POST', '/v2/team/up/blobs/uploads/', { headers: { 'Content-Length': '0' } });
    assert.equal(start.status, 202, start.body.toString());
    const location = start.headers.get('location')!;
    const uuid = start.headers.get('docker-upload-uuid')!;
    assert.match(location, new RegExp(`^/v2/team/up/blobs/uploads/${uuid}$`));
    assert.equal(start.headers.get('range'), '0-0');

    const first = await oci('PATCH', location, {
      body: data.subarray(0, 10_000),
      headers: { 'Content-Range': '0-9999', 'Content-Type': 'application/octet-stream' },
    });
    assert.equal(first.status, 202, first.body.toString());
    assert.equal(first.headers.get('range'), '0-9999');
    assert.equal(first.headers.get('location'), location);

    const status = await oci('GET', location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-9999');
    assert.equal(status.headers.get('docker-upload-uuid'), uuid);

    const skipped = await oci('PATCH', location, { body: data.subarray(15_000, 20_000), headers: { 'Content-Range': '15000-19999' } });
    assertError(skipped, 416, 'BLOB_UPLOAD_INVALID');
    assert.equal(skipped.headers.get('range'), '0-9999');

    const wrongLength = await oci('PATCH', location, { body: data.subarray(10_000, 15_000), headers: { 'Content-Range': '10000-10999' } });
    assertError(wrongLength, 400, 'SIZE_INVALID');

    const second = await oci('PATCH', location, { body: data.subarray(10_000, 20_000), headers: { 'Content-Range': '10000-19999' } });
    assert.equal(second.status, 202);
    assert.equal(second.headers.get('range'), '0-19999');

    const digest = sha256(data);
    const done = await oci('PUT', `${location}?digest=${digest}`, {
      body: data.subarray(20_000),
      headers: { 'Content-Range': '20000-29999' },
    });
    assert.equal(done.status, 201, done.body.toString());
    assert.equal(done.headers.get('location'), `/v2/team/up/blobs/${digest}`);
    assert.equal(done.headers.get('docker-content-digest'), digest);

    const gone = await oci('GET', location);
    assertError(gone, 404, 'BLOB_UPLOAD_UNKNOWN');
    const stored = await oci('GET', `/v1/blobs/${digest}`, { headers: { Authorization: `Bearer ${server.token}` } });
    assert.deepEqual(stored.body, data);
  });

  test('streamed PATCH without Content-Range, then PUT without a body', async () => {
    const data = randomBytes(70_000);
    const start = await oci('POST', '/v2/team/up/blobs/uploads/');
    const location = start.headers.get('location')!;
    const patch = await oci('PATCH', location, { body: data });
    assert.equal(patch.status, 202);
    assert.equal(patch.headers.get('range'), `0-${data.length - 1}`);
    const done = await oci('PUT', `${location}?digest=${sha256(data)}`);
    assert.equal(done.status, 201);
  });

  test('POST then PUT with the whole blob; a wrong digest discards the upload', async () => {
    const data = Buffer.from('monolithic in the PUT');
    const start = await oci('POST', '/v2/team/up/blobs/uploads/');
    const location = start.headers.get('location')!;
    const wrong = await oci('PUT', `${location}?digest=${sha256('something else')}`, { body: data });
    assertError(wrong, 400, 'DIGEST_INVALID');
    assert.equal((await oci('GET', location)).status, 404);

    const again = await oci('POST', '/v2/team/up/blobs/uploads/');
    const put = await oci('PUT', `${again.headers.get('location')}?digest=${sha256(data)}`, { body: data });
    assert.equal(put.status, 201);
    const noDigest = await oci('PUT', (await oci('POST', '/v2/team/up/blobs/uploads/')).headers.get('location')!);
    assertError(noDigest, 400, 'DIGEST_INVALID');
  });

  test('single-POST monolithic upload; digest checks', async () => {
    const data = Buffer.from('one post');
    const digest = await pushBlob('team/up', data);
    const again = await oci('POST', `/v2/team/up/blobs/uploads/?digest=${digest}`, { body: data });
    assert.equal(again.status, 201);
    const mismatch = await oci('POST', `/v2/team/up/blobs/uploads/?digest=${sha256('other')}`, { body: data });
    assertError(mismatch, 400, 'DIGEST_INVALID');
    const malformed = await oci('POST', '/v2/team/up/blobs/uploads/?digest=sha256:XYZ', { body: data });
    assertError(malformed, 400, 'DIGEST_INVALID');
  });

  test('DELETE cancels an upload', async () => {
    const start = await oci('POST', '/v2/team/up/blobs/uploads/');
    const location = start.headers.get('location')!;
    await oci('PATCH', location, { body: Buffer.from('partial') });
    const del = await oci('DELETE', location);
    assert.equal(del.status, 204);
    assertError(await oci('GET', location), 404, 'BLOB_UPLOAD_UNKNOWN');
    assertError(await oci('PATCH', location, { body: Buffer.from('more') }), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('another token cannot use an upload session', async () => {
    const start = await oci('POST', '/v2/team/up/blobs/uploads/');
    const res = await oci('GET', start.headers.get('location')!, { token: approver });
    assertError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  test('cross-repository mount: 201 when the caller may read the source, else a 202 upload session', async () => {
    const data = Buffer.from('mount me');
    await registerFiles(server, 'team/source', { 'm.bin': data });
    const digest = sha256(data);
    const mounted = await oci('POST', `/v2/team/target/blobs/uploads/?mount=${digest}&from=team/source`, { token: scopedWriter });
    assert.equal(mounted.status, 201, mounted.body.toString());
    assert.equal(mounted.headers.get('location'), `/v2/team/target/blobs/${digest}`);
    assert.equal(mounted.headers.get('docker-content-digest'), digest);

    // The source does not list the blob (for a token that only sees what its models list).
    const notThere = await oci('POST', `/v2/team/target/blobs/uploads/?mount=${digest}&from=team/gen`, { token: scopedWriter });
    assert.equal(notThere.status, 202);
    assert.match(notThere.headers.get('location')!, /^\/v2\/team\/target\/blobs\/uploads\/[0-9a-f-]{36}$/);

    // The caller may not read the source repository at all.
    await registerFiles(server, 'other/source', { 'o.bin': 'outside the scope' });
    const outside = await oci('POST', `/v2/team/target/blobs/uploads/?mount=${sha256('outside the scope')}&from=other/source`, {
      token: scopedWriter,
    });
    assert.equal(outside.status, 202);

    const missing = await oci('POST', `/v2/team/target/blobs/uploads/?mount=${sha256('nowhere')}&from=team/source`);
    assert.equal(missing.status, 202);
  });
});

describe('pushed manifests', () => {
  const weights = randomBytes(50_000);
  const cfg = Buffer.from('{"hidden": 64}');
  const untitled = Buffer.from('a layer without a title');
  let manifest: Buffer;

  before(async () => {
    for (const b of [weights, cfg, untitled]) await pushBlob('team/pushed', b);
    manifest = manifestFor([{ data: weights, title: 'model.safetensors' }, { data: cfg, title: 'config/model.json' }, { data: untitled }], {
      annotations: { 'org.opencontainers.image.description': 'test model' },
    });
  });

  test('a tag push registers a version, keeps the bytes exactly and moves the alias (audited)', async () => {
    const res = await putManifest('team/pushed', 'staging', manifest);
    assert.equal(res.status, 201, res.body.toString());
    const digest = sha256(manifest);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.equal(res.headers.get('location'), `/v2/team/pushed/manifests/${digest}`);

    const byTag = await oci('GET', '/v2/team/pushed/manifests/staging', { token: reader });
    assert.equal(byTag.status, 200);
    assert.deepEqual(byTag.body, manifest);
    assert.equal(byTag.headers.get('docker-content-digest'), digest);
    assert.equal(byTag.headers.get('content-type'), OCI_MANIFEST);
    const byDigest = await oci('GET', `/v2/team/pushed/manifests/${digest}`, { token: reader });
    assert.deepEqual(byDigest.body, manifest);
    const byVersion = await oci('GET', '/v2/team/pushed/manifests/v1', { token: reader });
    assert.deepEqual(byVersion.body, manifest);
    // The manifest is also a blob of the repository.
    const asBlob = await oci('GET', `/v2/team/pushed/blobs/${digest}`, { token: reader });
    assert.deepEqual(asBlob.body, manifest);

    // Readable through the v1 API: files at their titles, the untitled layer under blobs/sha256/.
    const resolved = await api(server, 'GET', '/v1/resolve/team/pushed@staging');
    assert.equal(resolved.status, 200);
    assert.deepEqual(
      resolved.json.files.map((f: any) => f.path),
      [`blobs/sha256/${sha256(untitled).slice(7)}`, 'config/model.json', 'model.safetensors'],
    );
    const file = await fetch(`${server.url}/v1/models/team/pushed@staging/files/model.safetensors`, {
      headers: { Authorization: `Bearer ${reader}` },
    });
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), weights);

    const history = await api(server, 'GET', '/v1/models/team/pushed/aliases/staging/history');
    const last = history.json.history.at(-1);
    assert.equal(last.to, 1);
    assert.equal(last.actor.name, 'oci-writer');
    assert.match(last.reason, /OCI push of sha256:/);
    const audit = await api(server, 'GET', '/v1/audit?model=team/pushed&limit=100');
    assert.ok(
      audit.json.entries.some((e: any) => e.action === 'manifest.push' && e.details.digest === digest),
      JSON.stringify(audit.json),
    );

    // The version records where it came from.
    const v = await api(server, 'GET', '/v1/models/team/pushed/versions/1');
    assert.equal(v.json.metadata.oci.artifactType, 'application/vnd.example.model.v1');
    assert.equal(v.json.metadata.oci.annotations['org.opencontainers.image.description'], 'test model');
  });

  test('pushing the same files again is idempotent; by digest only records the manifest', async () => {
    const again = await putManifest('team/pushed', 'canary', manifest);
    assert.equal(again.status, 201);
    const aliases = await api(server, 'GET', '/v1/models/team/pushed/aliases');
    assert.deepEqual(aliases.json.aliases, { staging: 1, canary: 1 });

    const variant = manifestFor([{ data: weights, title: 'model.safetensors' }], { annotations: { note: 'by digest' } });
    const digest = sha256(variant);
    const res = await putManifest('team/pushed', digest, variant);
    assert.equal(res.status, 201, res.body.toString());
    const after = await api(server, 'GET', '/v1/models/team/pushed/aliases');
    assert.deepEqual(after.json.aliases, { staging: 1, canary: 1 }, 'no alias moved');
    const got = await oci('GET', `/v2/team/pushed/manifests/${digest}`, { token: reader });
    assert.deepEqual(got.body, variant);
    assert.equal((await api(server, 'GET', '/v1/models/team/pushed/versions/2')).json.files.length, 1);

    const wrong = await putManifest('team/pushed', sha256('not this'), variant);
    assertError(wrong, 400, 'DIGEST_INVALID');
  });

  test('v<N> tags: only a restatement of version N, or the next number', async () => {
    const same = await putManifest('team/pushed', 'v1', manifest);
    assert.equal(same.status, 201, same.body.toString());
    const other = manifestFor([{ data: cfg, title: 'only-config.json' }]);
    assertError(await putManifest('team/pushed', 'v1', other), 400, 'MANIFEST_INVALID');
    assertError(await putManifest('team/pushed', 'v9', other), 400, 'MANIFEST_INVALID');
    const next = await putManifest('team/pushed', 'v3', other);
    assert.equal(next.status, 201, next.body.toString());
    assert.deepEqual(next.headers.get('x-model-version'), '3');
  });

  test('a writer pushing a tag of a protected alias is refused with DENIED, before anything is stored', async () => {
    const fresh = manifestFor([{ data: weights, title: 'prod.bin' }]);
    const res = await putManifest('team/pushed', 'production', fresh);
    assertError(res, 403, 'DENIED');
    const versions = await api(server, 'GET', '/v1/models/team/pushed/versions');
    assert.ok(!versions.json.versions.some((v: any) => v.files.some((f: any) => f.path === 'prod.bin')));
    const audit = await api(server, 'GET', '/v1/audit?action=denied&limit=1000');
    assert.ok(
      audit.json.entries.some((e: any) => e.action === 'denied.oci.manifest.put' && e.target === 'team/pushed' && e.details.status === 403),
    );
  });

  test('an approver pushing to a protected alias still meets the gates (POLICY_UNMET → DENIED)', async () => {
    const res = await putManifest('team/pushed', 'production', manifest, approver);
    assertError(res, 403, 'DENIED');
    assert.equal(res.json.errors[0].detail.modelgate, 'POLICY_UNMET');
    const aliases = await api(server, 'GET', '/v1/models/team/pushed/aliases');
    assert.equal(aliases.json.aliases.production, undefined);

    // With a model card and approved by someone other than the registrant, the same push moves production.
    await cardAndApprove('team/pushed');
    const ok = await putManifest('team/pushed', 'production', manifest, approver);
    assert.equal(ok.status, 201, ok.body.toString());
    const moved = await api(server, 'GET', '/v1/models/team/pushed/aliases');
    assert.equal(moved.json.aliases.production, 1);
  });

  test('the default promotion path on tag pushes: an approved, carded version that never held an earlier stage is refused production (STAGE) until a staging tag', async () => {
    const data = randomBytes(4096);
    await pushBlob('team/unstaged', data);
    const unstaged = manifestFor([{ data, title: 'w.bin' }]);
    assert.equal((await putManifest('team/unstaged', 'v1', unstaged)).status, 201);
    await cardAndApprove('team/unstaged');

    const refused = await putManifest('team/unstaged', 'production', unstaged, approver);
    assertError(refused, 403, 'DENIED');
    assert.equal(refused.json.errors[0].detail.modelgate, 'POLICY_UNMET');
    assert.match(refused.json.errors[0].message, /must first have held one of @staging, @shadow, @canary/);
    assert.equal((await api(server, 'GET', '/v1/models/team/unstaged/aliases')).json.aliases.production, undefined);

    assert.equal((await putManifest('team/unstaged', 'staging', unstaged)).status, 201);
    const promoted = await putManifest('team/unstaged', 'production', unstaged, approver);
    assert.equal(promoted.status, 201, promoted.body.toString());
    assert.equal((await api(server, 'GET', '/v1/models/team/unstaged/aliases')).json.aliases.production, 1);
  });

  test('an approver pushing new files to a gated alias is refused before the version is registered', async () => {
    const data = randomBytes(2048);
    await pushBlob('team/pushed', data);
    const fresh = manifestFor([{ data, title: 'unapproved.bin' }]);
    const before = await api(server, 'GET', '/v1/models/team/pushed');
    const res = await putManifest('team/pushed', 'production', fresh, approver);
    assertError(res, 403, 'DENIED');
    assert.equal(res.json.errors[0].detail.modelgate, 'POLICY_UNMET');
    assert.match(res.json.errors[0].message, /nothing was registered/);
    const after = await api(server, 'GET', '/v1/models/team/pushed');
    assert.equal(after.json.latestVersion, before.json.latestVersion, 'a refused push registered a version');
  });

  test('invalid manifests are refused with MANIFEST_INVALID / MANIFEST_BLOB_UNKNOWN', async () => {
    const missing = manifestFor([{ data: Buffer.from('never pushed'), title: 'x.bin' }]);
    const res = await putManifest('team/bad', 'staging', missing);
    assertError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal(res.json.errors[0].detail.digest, sha256('never pushed'));

    assertError(await putManifest('team/bad', 'staging', Buffer.from('{not json')), 400, 'MANIFEST_INVALID');
    assertError(await putManifest('team/bad', 'staging', Buffer.from('[]')), 400, 'MANIFEST_INVALID');
    const v1 = JSON.parse(manifestFor([{ data: weights, title: 'a' }]).toString());
    assertError(
      await putManifest('team/bad', 'staging', Buffer.from(JSON.stringify({ ...v1, schemaVersion: 1 }))),
      400,
      'MANIFEST_INVALID',
    );
    assertError(
      await putManifest('team/bad', 'staging', Buffer.from(JSON.stringify({ ...v1, mediaType: 'application/vnd.example+json' }))),
      400,
      'MANIFEST_INVALID',
    );
    assertError(
      await putManifest(
        'team/bad',
        'staging',
        Buffer.from(JSON.stringify(v1)),
        writer,
        'application/vnd.docker.distribution.manifest.v2+json',
      ),
      400,
      'MANIFEST_INVALID',
    );
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] };
    assertError(
      await putManifest('team/bad', 'staging', Buffer.from(JSON.stringify(index)), writer, index.mediaType),
      400,
      'MANIFEST_INVALID',
    );
    assertError(await putManifest('team/bad', 'staging', Buffer.from(JSON.stringify({ ...v1, layers: [] }))), 400, 'MANIFEST_INVALID');
    const badSize = { ...v1, layers: [{ ...v1.layers[0], size: 7 }] };
    assertError(await putManifest('team/bad', 'staging', Buffer.from(JSON.stringify(badSize))), 400, 'MANIFEST_INVALID');
    const traversal = { ...v1, layers: [{ ...v1.layers[0], annotations: { 'org.opencontainers.image.title': '../etc/passwd' } }] };
    assertError(await putManifest('team/bad', 'staging', Buffer.from(JSON.stringify(traversal))), 400, 'MANIFEST_INVALID');
    const sha512 = { ...v1, layers: [{ ...v1.layers[0], digest: `sha512:${'a'.repeat(128)}` }] };
    assertError(await putManifest('team/bad', 'staging', Buffer.from(JSON.stringify(sha512))), 400, 'MANIFEST_INVALID');

    const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    assertError(await putManifest('team/bad', 'staging', huge), 413, 'MANIFEST_INVALID');

    assertError(await putManifest('team/bad', '1.0', manifest), 400, 'UNSUPPORTED');
    assertError(await putManifest('team/bad', 'bad$tag', manifest), 400, 'MANIFEST_INVALID');
    // Nothing of this registered a model.
    assertError(await oci('GET', '/v2/team/bad/tags/list', { token: reader }), 404, 'NAME_UNKNOWN');
  });
});

describe('pushed manifests and garbage collection', () => {
  test('gc keeps a pushed manifest and its config while the version exists, and sweeps them once it is deleted', async () => {
    const layer = await pushBlob('team/gc', randomBytes(4096));
    const config = Buffer.from(JSON.stringify({ architecture: 'transformer', note: randomBytes(8).toString('hex') }));
    const configDigest = await pushBlob('team/gc', config);
    const bytes = manifestFor([{ data: Buffer.alloc(0), title: 'weights.bin' }], {
      config: { mediaType: 'application/vnd.example.config.v1+json', digest: configDigest, size: config.length },
      layers: [
        {
          mediaType: 'application/octet-stream',
          digest: layer,
          size: 4096,
          annotations: { 'org.opencontainers.image.title': 'weights.bin' },
        },
      ],
    });
    const pushed = await putManifest('team/gc', sha256(bytes), bytes);
    assert.equal(pushed.status, 201, pushed.body.toString());
    const version = Number(pushed.headers.get('x-model-version'));

    const kept = await api(server, 'POST', '/v1/gc', {});
    assert.equal(kept.status, 200, JSON.stringify(kept.json));
    const swept = (r: typeof kept) => (r.json.blobs as { digest: string }[]).map((b) => b.digest);
    assert.ok(!swept(kept).includes(sha256(bytes)), 'gc removed the manifest of a live version');
    assert.ok(!swept(kept).includes(configDigest), 'gc removed the config of a live version');
    const manifest = await oci('GET', `/v2/team/gc/manifests/${sha256(bytes)}`, { token: reader, headers: { Accept: OCI_MANIFEST } });
    assert.equal(manifest.status, 200);
    assert.ok(manifest.body.equals(bytes), 'the manifest bytes changed');
    const configBlob = await oci('GET', `/v2/team/gc/blobs/${configDigest}`, { token: reader });
    assert.equal(configBlob.status, 200);
    assert.ok(configBlob.body.equals(config));

    const deleted = await api(server, 'DELETE', `/v1/models/team/gc/versions/${version}`, { reason: 'gc test' });
    assert.equal(deleted.status, 204, JSON.stringify(deleted.json));
    const gone = await api(server, 'POST', '/v1/gc', {});
    assert.ok(
      swept(gone).includes(sha256(bytes)) && swept(gone).includes(configDigest) && swept(gone).includes(layer),
      JSON.stringify(gone.json),
    );
    assertError(
      await oci('GET', `/v2/team/gc/manifests/${sha256(bytes)}`, { token: reader, headers: { Accept: OCI_MANIFEST } }),
      404,
      'MANIFEST_UNKNOWN',
    );
    assertError(await oci('GET', `/v2/team/gc/blobs/${configDigest}`, { token: reader }), 404, 'BLOB_UNKNOWN');
  });
});

describe('tags and names', () => {
  before(async () => {
    for (let i = 0; i < 3; i++) await registerFiles(server, 'team/tags', { 'f.bin': `tags-${i}` });
    for (const [alias, v] of [
      ['staging', 2],
      ['canary', 3],
      ['shadow', 1],
    ] as const) {
      assert.equal((await api(server, 'PUT', `/v1/models/team/tags/aliases/${alias}`, { version: v })).status, 200);
    }
  });

  test('tags/list: aliases and v<N> in ASCII order, with n/last pagination and a next Link', async () => {
    const all = await oci('GET', '/v2/team/tags/tags/list', { token: reader });
    assert.equal(all.status, 200);
    assert.deepEqual(all.json, { name: 'team/tags', tags: ['canary', 'shadow', 'staging', 'v1', 'v2', 'v3'] });
    assert.equal(all.headers.get('link'), null);

    const first = await oci('GET', '/v2/team/tags/tags/list?n=2', { token: reader });
    assert.deepEqual(first.json.tags, ['canary', 'shadow']);
    assert.equal(first.headers.get('link'), '</v2/team/tags/tags/list?n=2&last=shadow>; rel="next"');
    const second = await oci('GET', '/v2/team/tags/tags/list?n=2&last=shadow', { token: reader });
    assert.deepEqual(second.json.tags, ['staging', 'v1']);
    const lastPage = await oci('GET', '/v2/team/tags/tags/list?n=2&last=v1', { token: reader });
    assert.deepEqual(lastPage.json.tags, ['v2', 'v3']);
    assert.equal(lastPage.headers.get('link'), null);
    const zero = await oci('GET', '/v2/team/tags/tags/list?n=0', { token: reader });
    assert.deepEqual(zero.json.tags, []);
    assert.equal(zero.headers.get('link'), null);
    const onlyLast = await oci('GET', '/v2/team/tags/tags/list?last=v2', { token: reader });
    assert.deepEqual(onlyLast.json.tags, ['v3']);
    assertError(await oci('GET', '/v2/team/tags/tags/list?n=-1', { token: reader }), 400, 'UNSUPPORTED');
  });

  test('_catalog: the repositories in the token’s scope, in name order, with n/last pagination and a next Link', async () => {
    for (const name of ['cat/b', 'cat/a', 'cat/c']) await registerFiles(server, name, { 'f.bin': `catalog ${name}` });
    const catReader = (await createToken(server, 'oci-cat-reader', 'reader', 'cat/*')).token;
    const all = await oci('GET', '/v2/_catalog', { token: catReader });
    assert.equal(all.status, 200);
    assert.deepEqual(all.json, { repositories: ['cat/a', 'cat/b', 'cat/c'] });
    assert.equal(all.headers.get('link'), null);
    const first = await oci('GET', '/v2/_catalog?n=2', { token: catReader });
    assert.deepEqual(first.json.repositories, ['cat/a', 'cat/b']);
    assert.equal(first.headers.get('link'), '</v2/_catalog?n=2&last=cat%2Fb>; rel="next"');
    const next = await oci('GET', '/v2/_catalog?n=2&last=cat%2Fb', { token: catReader });
    assert.deepEqual(next.json.repositories, ['cat/c']);
    assert.equal(next.headers.get('link'), null);
    assert.deepEqual((await oci('GET', '/v2/_catalog?n=0', { token: catReader })).json.repositories, []);
    // An unscoped reader sees every repository, in the same order; another scope sees none of these.
    const everything = (await oci('GET', '/v2/_catalog', { token: reader })).json.repositories;
    assert.deepEqual(everything, [...everything].sort());
    assert.ok(['cat/a', 'cat/b', 'cat/c', 'team/tags'].every((r) => everything.includes(r)));
    assert.ok(!(await oci('GET', '/v2/_catalog', { token: otherReader })).json.repositories.some((r: string) => r.startsWith('cat/')));
    assertError(await oci('GET', '/v2/_catalog', { token: null }), 401, 'UNAUTHORIZED');
    assertError(await oci('GET', '/v2/_catalog?n=x', { token: reader }), 400, 'UNSUPPORTED');
    assertError(await oci('DELETE', '/v2/_catalog', { token: reader }), 405, 'UNSUPPORTED');
  });

  test('unknown and invalid names, unknown manifests, unsupported methods', async () => {
    assertError(await oci('GET', '/v2/team/nope/tags/list', { token: reader }), 404, 'NAME_UNKNOWN');
    assertError(await oci('GET', '/v2/team/nope/manifests/staging', { token: reader }), 404, 'NAME_UNKNOWN');
    assertError(await oci('GET', '/v2/Team/Tags/manifests/staging', { token: reader }), 400, 'NAME_INVALID');
    assertError(await oci('GET', '/v2/a/b/c/manifests/staging', { token: reader }), 400, 'NAME_INVALID');
    assertError(await oci('GET', '/v2/team/tags/manifests/production', { token: reader }), 404, 'MANIFEST_UNKNOWN');
    assertError(await oci('GET', '/v2/team/tags/manifests/v99', { token: reader }), 404, 'MANIFEST_UNKNOWN');
    assertError(await oci('GET', '/v2/team/tags/manifests/1.0', { token: reader }), 404, 'MANIFEST_UNKNOWN');
    assertError(await oci('GET', `/v2/team/tags/manifests/${sha256('no such manifest')}`, { token: reader }), 404, 'MANIFEST_UNKNOWN');
    assertError(await oci('GET', '/v2/team/tags/manifests/sha256:abc', { token: reader }), 400, 'DIGEST_INVALID');
    assertError(await oci('GET', '/v2/team/tags/blobs/md5:abc', { token: reader }), 400, 'DIGEST_INVALID');
    // A v<N> tag is the version's own name: not deleted on its own (a manifest is, by digest).
    const del = await oci('DELETE', '/v2/team/tags/manifests/v1');
    assertOciError(del, 405, 'UNSUPPORTED', /delete its manifest by digest/);
    assert.equal(del.headers.get('allow'), 'GET, HEAD, PUT');
    assertError(await oci('DELETE', `/v2/team/tags/blobs/${sha256('tags-0')}`), 405, 'UNSUPPORTED');
    assertError(await oci('GET', '/v2/team/tags/labels/list', { token: reader }), 404, 'UNSUPPORTED');
    // A model whose name is a protocol word is still addressable.
    await registerFiles(server, 'team/manifests', { 'f.bin': 'named manifests' });
    assert.equal((await oci('GET', '/v2/team/manifests/manifests/v1', { token: reader })).status, 200);
  });
});

describe('manifest and tag deletion', () => {
  const digestOf = async (repo: string, tag: string) => {
    const res = await oci('HEAD', `/v2/${repo}/manifests/${tag}`, { token: reader });
    assert.equal(res.status, 200);
    return res.headers.get('docker-content-digest')!;
  };

  test('a manifest deleted by digest deletes its version through the registry rule; an alias tag deleted deletes the alias', async () => {
    await registerFiles(server, 'team/del', { 'a.bin': 'del one' });
    await registerFiles(server, 'team/del', { 'a.bin': 'del two' });
    assert.equal((await api(server, 'PUT', '/v1/models/team/del/aliases/staging', { version: 2 })).status, 200);
    const one = await digestOf('team/del', 'v1');
    const two = await digestOf('team/del', 'v2');

    // Only an admin deletes a version, as on /v1; a writer is denied and nothing changes.
    assertError(await oci('DELETE', `/v2/team/del/manifests/${one}`), 403, 'DENIED');
    assert.equal((await api(server, 'GET', '/v1/models/team/del/versions/1')).status, 200);
    // A version an alias holds is refused by the same rule as DELETE /v1/…/versions/2, naming the alias.
    const held = await oci('DELETE', `/v2/team/del/manifests/${two}`, { token: server.token });
    assertOciError(held, 409, 'DENIED', /held by @staging/);
    assert.equal(held.json.errors[0].detail.modelgate, 'VERSION_IN_USE');
    // A reason too long for the v1 body is refused the same way, and nothing is deleted.
    const long = await oci('DELETE', `/v2/team/del/manifests/${one}?reason=${'x'.repeat(1001)}`, { token: server.token });
    assert.equal(long.status, 400);
    assert.equal((await api(server, 'GET', '/v1/models/team/del/versions/1')).status, 200);

    const gone = await oci('DELETE', `/v2/team/del/manifests/${one}?reason=superseded`, { token: server.token });
    assert.equal(gone.status, 202, gone.body.toString());
    assert.equal((await api(server, 'GET', '/v1/models/team/del/versions/1')).status, 404);
    assertError(await oci('GET', `/v2/team/del/manifests/${one}`, { token: reader }), 404, 'MANIFEST_UNKNOWN');
    assertError(await oci('DELETE', `/v2/team/del/manifests/${one}`, { token: server.token }), 404, 'MANIFEST_UNKNOWN');
    const audit = await api(server, 'GET', '/v1/audit?model=team/del&action=version.delete');
    assert.deepEqual(
      audit.json.entries.map((e: { target: string; details: { reason: string } }) => [e.target, e.details.reason]),
      [['team/del@v1', 'superseded']],
    );

    // Deleting the alias tag deletes the alias (the writer may move staging); then v2 is free to go.
    assertError(await oci('DELETE', '/v2/team/del/manifests/staging', { token: reader }), 403, 'DENIED');
    assert.equal((await oci('DELETE', '/v2/team/del/manifests/staging')).status, 202);
    assert.equal((await api(server, 'GET', '/v1/models/team/del/aliases')).json.aliases.staging, undefined);
    assertError(await oci('DELETE', '/v2/team/del/manifests/staging'), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await oci('DELETE', `/v2/team/del/manifests/${two}`, { token: server.token })).status, 202);
    const reasons = await api(server, 'GET', '/v1/audit?model=team/del&action=version.delete');
    assert.equal(reasons.json.entries.at(-1).details.reason, `manifest ${two} deleted through the OCI API`);
  });

  test('a protected alias tag is deleted only by its mover role', async () => {
    const data = randomBytes(4096);
    await pushBlob('team/delprod', data);
    const manifest = manifestFor([{ data, title: 'w.bin' }]);
    assert.equal((await putManifest('team/delprod', 'staging', manifest)).status, 201);
    await cardAndApprove('team/delprod');
    assert.equal((await putManifest('team/delprod', 'production', manifest, approver)).status, 201);

    assertOciError(await oci('DELETE', '/v2/team/delprod/manifests/production'), 403, 'DENIED', /approver/);
    assert.equal((await api(server, 'GET', '/v1/models/team/delprod/aliases')).json.aliases.production, 1);
    assert.equal((await oci('DELETE', '/v2/team/delprod/manifests/production', { token: approver })).status, 202);
    assert.equal((await api(server, 'GET', '/v1/models/team/delprod/aliases')).json.aliases.production, undefined);
    const moves = await api(server, 'GET', '/v1/audit?model=team/delprod&action=alias.delete');
    assert.deepEqual(
      moves.json.entries.map((e: { target: string; actor: { name: string } }) => [e.target, e.actor.name]),
      [['team/delprod@production', 'oci-approver']],
    );
  });
});

describe('referrers', () => {
  /** A signature-like referrer of `subject`: empty config, one layer, an artifactType and an annotation. */
  async function referrer(repo: string, subject: { digest: string; size: number }, artifactType: string, payload: Buffer) {
    const layer = await pushBlob(repo, payload);
    return Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DIGEST, size: 2 },
        layers: [{ mediaType: 'application/vnd.example.payload', digest: layer, size: payload.length }],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size },
        annotations: { 'org.opencontainers.image.created': '2026-12-06T00:00:00Z' },
      }),
    );
  }

  test('a manifest with a subject is attached to its version, listed as a referrer, kept while the version exists and gone with it', async () => {
    const data = randomBytes(4096);
    await pushBlob('team/signed', data);
    const model = manifestFor([{ data, title: 'w.bin' }]);
    assert.equal((await putManifest('team/signed', 'v1', model)).status, 201);
    const subject = { digest: sha256(model), size: model.length };
    const payload = randomBytes(512);
    const sig = await referrer('team/signed', subject, 'application/vnd.example.signature.v1', payload);

    // Attached by digest only, by a writer, to a subject the model holds; nothing is stored otherwise.
    assertOciError(await putManifest('team/signed', 'staging', sig), 400, 'MANIFEST_INVALID', /push it by its digest/);
    assertError(await putManifest('team/signed', sha256(sig), sig, reader), 403, 'DENIED');
    const orphan = await referrer(
      'team/signed',
      { digest: sha256('no such subject'), size: 10 },
      'application/vnd.example.signature.v1',
      payload,
    );
    assertOciError(await putManifest('team/signed', sha256(orphan), orphan), 400, 'MANIFEST_INVALID', /is not a manifest of team\/signed/);
    assertError(await oci('GET', `/v2/team/signed/manifests/${sha256(orphan)}`, { token: reader }), 404, 'MANIFEST_UNKNOWN');
    assert.equal((await api(server, 'GET', '/v1/models/team/signed/aliases')).json.aliases.staging, undefined);

    const attached = await putManifest('team/signed', sha256(sig), sig);
    assert.equal(attached.status, 201, attached.body.toString());
    assert.equal(attached.headers.get('oci-subject'), subject.digest);
    assert.equal(attached.headers.get('docker-content-digest'), sha256(sig));
    // No version registered; v1 still serves the model's own manifest, the referrer its own bytes by digest.
    assert.equal((await api(server, 'GET', '/v1/models/team/signed/versions')).json.versions.length, 1);
    assert.ok((await oci('GET', '/v2/team/signed/manifests/v1', { token: reader, headers: { Accept: OCI_MANIFEST } })).body.equals(model));
    assert.ok(
      (await oci('GET', `/v2/team/signed/manifests/${sha256(sig)}`, { token: reader, headers: { Accept: OCI_MANIFEST } })).body.equals(sig),
    );
    // Pushed again: the same record, no second audit entry.
    assert.equal((await putManifest('team/signed', sha256(sig), sig)).status, 201);
    const audit = await api(server, 'GET', '/v1/audit?model=team/signed&action=manifest.push');
    const attaches = audit.json.entries.filter((e: { details: { subject?: string } }) => e.details.subject === subject.digest);
    assert.deepEqual(
      attaches.map((e: { target: string; details: { digest: string; artifactType: string } }) => [
        e.target,
        e.details.digest,
        e.details.artifactType,
      ]),
      [['team/signed@v1', sha256(sig), 'application/vnd.example.signature.v1']],
    );

    const listed = await oci('GET', `/v2/team/signed/referrers/${subject.digest}`, { token: reader });
    assert.equal(listed.status, 200, listed.body.toString());
    assert.equal(listed.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(listed.json, {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: OCI_MANIFEST,
          digest: sha256(sig),
          size: sig.length,
          artifactType: 'application/vnd.example.signature.v1',
          annotations: { 'org.opencontainers.image.created': '2026-12-06T00:00:00Z' },
        },
      ],
    });
    const filtered = await oci('GET', `/v2/team/signed/referrers/${subject.digest}?artifactType=application/spdx%2Bjson`, {
      token: reader,
    });
    assert.deepEqual([filtered.json.manifests, filtered.headers.get('oci-filters-applied')], [[], 'artifactType']);
    assert.deepEqual((await oci('GET', `/v2/team/signed/referrers/${sha256(sig)}`, { token: reader })).json.manifests, []);
    assertError(await oci('GET', `/v2/team/signed/referrers/${subject.digest}`, { token: otherReader }), 403, 'DENIED');
    assertError(await oci('GET', '/v2/team/signed/referrers/sha256:abc', { token: reader }), 400, 'DIGEST_INVALID');

    // GC keeps the referrer, its config and its payload while the version exists; deleting the
    // version (by its manifest's digest) takes them with it.
    const swept = (r: { json: { blobs: { digest: string }[] } }) => r.json.blobs.map((b) => b.digest);
    const kept = await api(server, 'POST', '/v1/gc', {});
    assert.ok(!swept(kept).includes(sha256(sig)) && !swept(kept).includes(sha256(payload)), JSON.stringify(kept.json));
    assert.equal((await oci('DELETE', `/v2/team/signed/manifests/${subject.digest}`, { token: server.token })).status, 202);
    const gone = await api(server, 'POST', '/v1/gc', {});
    assert.ok(swept(gone).includes(sha256(sig)) && swept(gone).includes(sha256(payload)), JSON.stringify(gone.json));
    assert.deepEqual((await oci('GET', `/v2/team/signed/referrers/${subject.digest}`, { token: reader })).json.manifests, []);
  });
});
