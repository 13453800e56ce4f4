// CNCF ModelPack on the OCI API (issue #17): the layouts of generated manifests (the first one kept
// for versions registered before, model-spec for new ones), and pushes of manifests written the
// way ModelPack tools (modctl), KitOps (`kit push`) and Docker (`docker model push`) write them,
// through raw HTTP as ORAS would and through skopeo from a `dir:` layout, mapped onto versions.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { fileKind, generateManifest } from '../src/oci/generate.js';
import { kitfileLayerPaths } from '../src/oci/manifest.js';
import { tarSuffix } from '../src/oci/media-types.js';
import { api, registerFiles, sha256 } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { assertOciError, EMPTY_DIGEST, ociRequest, pushOciBlob, putOciManifest, type OciResponse } from './harness/oci.js';
import { OCI_MANIFEST } from './harness/oci-layout.js';
import { createToken } from './harness/tokens.js';

const exec = promisify(execFile);

describe('generated manifest layouts (pure)', () => {
  const files = [
    { path: 'b/w.bin', size: 5, digest: `sha256:${'b'.repeat(64)}` },
    { path: 'a.json', size: 2, digest: `sha256:${'a'.repeat(64)}` },
  ];
  const base = { name: 'team/m', version: 3, createdAt: '2026-01-02T03:04:05.000Z', files, digest: `sha256:${'1'.repeat(64)}` };

  test('a version registered before ModelPack keeps the exact bytes (and digest) it was first served with', () => {
    // These bytes are what the previous release served (checked against its generator); clients pinned them.
    const expected =
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.modelgate.model.v1",' +
      `"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"${EMPTY_DIGEST}","size":2},"layers":[` +
      `{"mediaType":"application/vnd.modelgate.file","digest":"sha256:${'a'.repeat(64)}","size":2,"annotations":{"org.opencontainers.image.title":"a.json"}},` +
      `{"mediaType":"application/vnd.modelgate.file","digest":"sha256:${'b'.repeat(64)}","size":5,"annotations":{"org.opencontainers.image.title":"b/w.bin"}}],` +
      `"annotations":{"dev.modelgate.version.digest":"sha256:${'1'.repeat(64)}"}}`;
    const m = generateManifest(base);
    assert.equal(m.bytes.toString(), expected);
    assert.equal(m.digest, 'sha256:7c0a125a00b8aa4d8ad3e81a845d7ac3e2e3c1f81da1979ee371094050af96e5');
    assert.equal(m.config.digest, EMPTY_DIGEST);
  });

  test('a version registered with the first ModelPack layout keeps its exact digest (no file metadata)', () => {
    // The digest the 'modelpack' layout was served with from 462cc6f on; clients pinned it.
    const m = generateManifest({ ...base, ociLayout: 'modelpack' });
    assert.equal(m.digest, 'sha256:edeb1fdd90a4e0da3760120d2a567260b934207870227d3a50afafb74db4b23b');
    assert.equal(m.config.digest, 'sha256:ccf745da2bbea581229ecdb2f7463e087acf53247af648f6a6debbc9ea517dbf');
    assert.ok(!m.bytes.toString().includes('org.cncf.model.file.metadata+json'));
  });

  test('a new version gets a model-spec manifest and config with file metadata, the same bytes every time', () => {
    const m = generateManifest({ ...base, ociLayout: 'modelpack-v2' });
    assert.deepEqual(m.bytes, generateManifest({ ...base, ociLayout: 'modelpack-v2' }).bytes);
    const doc = JSON.parse(m.bytes.toString());
    assert.equal(doc.artifactType, 'application/vnd.cncf.model.manifest.v1+json');
    assert.deepEqual(doc.config, {
      mediaType: 'application/vnd.cncf.model.config.v1+json',
      digest: m.config.digest,
      size: m.config.bytes.length,
    });
    assert.equal(sha256(m.config.bytes), m.config.digest);
    assert.deepEqual(
      doc.layers.map((l: any) => [
        l.mediaType,
        l.annotations['org.cncf.model.filepath'],
        l.annotations['org.cncf.model.file.mediatype.untested'],
      ]),
      [
        ['application/vnd.cncf.model.weight.config.v1.raw', 'a.json', 'true'],
        ['application/vnd.cncf.model.weight.v1.raw', 'b/w.bin', 'true'],
      ],
    );
    // model-spec's FileMetadata (docs/annotations.md), a JSON string in its field order.
    assert.deepEqual(
      doc.layers.map((l: any) => l.annotations['org.cncf.model.file.metadata+json']),
      [
        '{"name":"a.json","mode":420,"uid":0,"gid":0,"size":2,"mtime":"2026-01-02T03:04:05.000Z","typeflag":0}',
        '{"name":"w.bin","mode":420,"uid":0,"gid":0,"size":5,"mtime":"2026-01-02T03:04:05.000Z","typeflag":0}',
      ],
    );
    // The config is the same as the first ModelPack layout's: only layer annotations were added.
    assert.equal(m.config.digest, generateManifest({ ...base, ociLayout: 'modelpack' }).config.digest);
    assert.deepEqual(JSON.parse(m.config.bytes.toString()), {
      descriptor: { createdAt: base.createdAt, name: 'team/m', version: 'v3' },
      config: {},
      modelfs: { type: 'layers', diffIds: [`sha256:${'a'.repeat(64)}`, `sha256:${'b'.repeat(64)}`] },
    });
    // One weight format throughout: named in the config.
    const gguf = generateManifest({
      ...base,
      ociLayout: 'modelpack-v2',
      files: [{ path: 'm.gguf', size: 1, digest: `sha256:${'c'.repeat(64)}` }],
    });
    assert.deepEqual(JSON.parse(gguf.config.bytes.toString()).config, { format: 'gguf' });
  });

  test('layer kinds from file names, tar suffixes, Kitfile paths', () => {
    assert.deepEqual(
      ['model.safetensors', 'README.md', 'LICENSE', 'train.py', 'data/eval.parquet', 'tokenizer.json', 'merges.txt'].map(fileKind),
      ['weight', 'doc', 'doc', 'code', 'dataset', 'weight.config', 'weight.config'],
    );
    assert.equal(tarSuffix('application/vnd.cncf.model.weight.v1.tar'), '.tar');
    assert.equal(tarSuffix('application/vnd.cncf.model.doc.v1.tar+gzip'), '.tar.gz');
    assert.equal(tarSuffix('application/vnd.cncf.model.code.v1.tar+zstd'), '.tar.zst');
    assert.equal(tarSuffix('application/vnd.kitops.modelkit.model.v1.tar+gzip'), '.tar.gz');
    assert.equal(tarSuffix('application/vnd.docker.ai.dir.tar'), '.tar');
    assert.equal(tarSuffix('application/vnd.cncf.model.weight.v1.raw'), '');
    assert.equal(tarSuffix('application/vnd.oci.image.layer.v1.tar'), '', 'ORAS files keep their titles as they are');
    const paths = kitfileLayerPaths(
      Buffer.from(
        JSON.stringify({
          manifestVersion: '1.0.0',
          model: { path: './model/', digest: 'sha256:m', parts: [{ path: 'lora.safetensors', digest: 'sha256:p' }] },
          docs: [{ path: '.', digest: 'sha256:d' }],
          code: [{ path: 'src', digest: 'sha256:c' }, { path: 'no-digest' }],
        }),
      ),
    );
    assert.deepEqual(Object.fromEntries(paths), {
      'sha256:m': 'model',
      'sha256:p': 'lora.safetensors',
      'sha256:d': 'docs',
      'sha256:c': 'src',
    });
  });
});

let server: TestServer;
let writer: string;
let reader: string;
let work: string;

before(async () => {
  server = await startServer();
  writer = (await createToken(server, 'mp-writer', 'writer')).token;
  reader = (await createToken(server, 'mp-reader', 'reader')).token;
  work = await mkdtemp(join(tmpdir(), 'modelgate-modelpack-'));
});
after(async () => {
  await server?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

type Res = OciResponse;

/** A request as `token`, sent as modctl and ORAS send it: Bearer. */
const oci = (method: string, path: string, token: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Res> =>
  ociRequest(server, method, path, { authorization: `Bearer ${token}`, headers, body });

/** ORAS-style: each blob in one POST with ?digest=. */
async function pushBlob(repo: string, data: Buffer): Promise<{ digest: string; size: number }> {
  return { digest: await pushOciBlob(server, repo, data, `Bearer ${writer}`), size: data.length };
}

const putManifest = (repo: string, ref: string, bytes: Buffer, token = writer) =>
  putOciManifest(server, repo, ref, bytes, `Bearer ${token}`);

const assertError = assertOciError;

/** A real tar (gzipped when asked) of `files`, made by tar(1) as the tools' Go archive/tar would. */
async function tarOf(files: Record<string, string>, gzip: boolean): Promise<Buffer> {
  const dir = await mkdtemp(join(work, 'tar-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const out = join(work, `${randomBytes(4).toString('hex')}.tar`);
  await exec('tar', ['-cf', out, '--sort=name', '--mtime=2026-01-01', '-C', dir, ...Object.keys(files)]);
  const tar = await readFile(out);
  return gzip ? gzipSync(tar) : tar;
}

async function files(name: string, ref: string): Promise<Record<string, { size: number; digest: string }>> {
  const res = await api(server, 'GET', `/v1/resolve/${name}@${ref}`);
  assert.equal(res.status, 200, res.text);
  return Object.fromEntries(res.json.files.map((f: any) => [f.path, { size: f.size, digest: f.digest }]));
}

async function download(name: string, ref: string, path: string): Promise<Buffer> {
  const res = await fetch(`${server.url}/v1/models/${name}@${ref}/files/${path}`, { headers: { Authorization: `Bearer ${reader}` } });
  assert.equal(res.status, 200, `download ${path}`);
  return Buffer.from(await res.arrayBuffer());
}

describe('ModelPack pushes (as modctl writes them, over raw HTTP)', () => {
  test('raw and tar layers become files at their filepath annotations, byte for byte; the manifest is served as pushed', async () => {
    const weights = randomBytes(64 * 1024);
    const tokenizer = await tarOf({ 'tokenizer.json': '{"v":1}', 'vocab.txt': 'a\nb\n' }, false);
    const readme = Buffer.from('# mp\n');
    const configJson = Buffer.from(
      JSON.stringify({
        descriptor: { name: 'mp', version: '1.0' },
        config: { format: 'safetensors' },
        modelfs: { type: 'layers', diffIds: [sha256(weights), sha256(tokenizer), sha256(readme)] },
      }),
    );
    const config = await pushBlob('mp/model', configJson);
    const layer = async (data: Buffer, mediaType: string, path: string) => ({
      mediaType,
      ...(await pushBlob('mp/model', data)),
      annotations: {
        'org.cncf.model.file.metadata+json': JSON.stringify({
          name: path,
          mode: 420,
          uid: 0,
          gid: 0,
          size: data.length,
          mtime: '2026-01-01T00:00:00Z',
          typeflag: 48,
        }),
        'org.cncf.model.file.mediatype.untested': 'false',
        'org.cncf.model.filepath': path,
      },
    });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.cncf.model.manifest.v1+json',
        config: { mediaType: 'application/vnd.cncf.model.config.v1+json', ...config },
        layers: [
          await layer(weights, 'application/vnd.cncf.model.weight.v1.raw', 'model.safetensors'),
          await layer(tokenizer, 'application/vnd.cncf.model.weight.config.v1.tar', 'tokenizer'),
          await layer(readme, 'application/vnd.cncf.model.doc.v1.raw', './README.md'),
        ],
        annotations: { 'org.cncf.model.name': 'mp' },
      }),
    );
    const put = await putManifest('mp/model', 'staging', manifest);
    assert.equal(put.status, 201, put.body.toString());
    assert.equal(put.headers.get('docker-content-digest'), sha256(manifest));

    assert.deepEqual(await files('mp/model', 'staging'), {
      'README.md': { size: readme.length, digest: sha256(readme) },
      'model.safetensors': { size: weights.length, digest: sha256(weights) },
      'tokenizer.tar': { size: tokenizer.length, digest: sha256(tokenizer) },
    });
    assert.ok((await download('mp/model', 'staging', 'tokenizer.tar')).equals(tokenizer), 'the tar layer is kept as it was, not unpacked');
    assert.ok((await download('mp/model', 'staging', 'model.safetensors')).equals(weights));

    const got = await oci('GET', '/v2/mp/model/manifests/staging', reader, undefined, { Accept: OCI_MANIFEST });
    assert.ok(got.body.equals(manifest), 'served byte for byte');
    const cfg = await oci('GET', `/v2/mp/model/blobs/${config.digest}`, reader);
    assert.ok(cfg.body.equals(configJson));
    const v = await api(server, 'GET', '/v1/models/mp/model/versions/1');
    assert.equal(v.json.metadata.oci.artifactType, 'application/vnd.cncf.model.manifest.v1+json');
    assert.equal(v.json.metadata.oci.configMediaType, 'application/vnd.cncf.model.config.v1+json');
  });

  test('bad input: escaping or empty file paths, two layers at one path, an unknown config; nothing stored, server still serving', async () => {
    const a = await pushBlob('mp/bad', Buffer.from('layer a'));
    const b = await pushBlob('mp/bad', Buffer.from('layer b'));
    const cfg = await pushBlob('mp/bad', Buffer.from('{"descriptor":{},"config":{},"modelfs":{"type":"layers","diffIds":[]}}'));
    const manifest = (layers: unknown[], config: unknown = { mediaType: 'application/vnd.cncf.model.config.v1+json', ...cfg }) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: 'application/vnd.cncf.model.manifest.v1+json',
          config,
          layers,
        }),
      );
    const at = (d: { digest: string; size: number }, path: string) => ({
      mediaType: 'application/vnd.cncf.model.weight.v1.raw',
      ...d,
      annotations: { 'org.cncf.model.filepath': path },
    });
    assertError(await putManifest('mp/bad', 'staging', manifest([at(a, '../../etc/passwd')])), 400, 'MANIFEST_INVALID', /etc\/passwd/);
    assertError(await putManifest('mp/bad', 'staging', manifest([at(a, './')])), 400, 'MANIFEST_INVALID', /"\."/);
    assertError(await putManifest('mp/bad', 'staging', manifest([at(a, 'w.bin'), at(b, 'w.bin')])), 400, 'MANIFEST_INVALID', /same name/);
    const unknownConfig = { mediaType: 'application/vnd.cncf.model.config.v1+json', digest: sha256('never pushed'), size: 12 };
    assertError(await putManifest('mp/bad', 'staging', manifest([at(a, 'w.bin')], unknownConfig)), 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.equal((await api(server, 'GET', '/v1/models/mp/bad')).status, 404, 'no model was registered');
    assert.equal((await putManifest('mp/bad', 'staging', manifest([at(a, 'w.bin')]))).status, 201, 'the server still serves');
  });
});

describe('KitOps ModelKits (as `kit push` writes them)', () => {
  test("each Kitfile entry's tar layer becomes a file named by its Kitfile path, kept compressed as pushed", async () => {
    const model = await tarOf({ 'model/weights.safetensors': 'kit weights', 'model/config.json': '{}' }, true);
    const docs = await tarOf({ 'README.md': '# kit\n' }, true);
    const code = await tarOf({ 'src/train.py': 'print(1)\n' }, false);
    const layers = [
      { mediaType: 'application/vnd.kitops.modelkit.model.v1.tar+gzip', ...(await pushBlob('kit/model', model)) },
      { mediaType: 'application/vnd.kitops.modelkit.code.v1.tar', ...(await pushBlob('kit/model', code)) },
      { mediaType: 'application/vnd.kitops.modelkit.docs.v1.tar+gzip', ...(await pushBlob('kit/model', docs)) },
    ];
    // The Kitfile as JSON (Go's json.Marshal of artifact.KitFile, LayerInfo inlined).
    const kitfile = Buffer.from(
      JSON.stringify({
        manifestVersion: '1.0.0',
        package: { name: 'kit-model', version: '1.0.0', authors: ['ml team'] },
        model: { name: 'kit-model', path: 'model', framework: 'pytorch', digest: layers[0]!.digest, diffId: sha256('uncompressed') },
        code: [{ path: 'src', description: 'training code', digest: layers[1]!.digest, diffId: layers[1]!.digest }],
        docs: [{ path: 'README.md', digest: layers[2]!.digest, diffId: sha256('readme tar') }],
      }),
    );
    const config = await pushBlob('kit/model', kitfile);
    // ocispec.Manifest as kit marshals it: no mediaType field (the Content-Type says it), its CLI version annotation.
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        config: { mediaType: 'application/vnd.kitops.modelkit.config.v1+json', ...config },
        layers,
        annotations: { 'ml.kitops.modelkit.cli-version': '1.9.0' },
      }),
    );
    const put = await putManifest('kit/model', 'staging', manifest);
    assert.equal(put.status, 201, put.body.toString());
    assert.deepEqual(await files('kit/model', 'staging'), {
      'README.md.tar.gz': { size: docs.length, digest: sha256(docs) },
      'model.tar.gz': { size: model.length, digest: sha256(model) },
      'src.tar': { size: code.length, digest: sha256(code) },
    });
    assert.ok((await download('kit/model', 'staging', 'model.tar.gz')).equals(model));
    const got = await oci('GET', '/v2/kit/model/manifests/staging', reader);
    assert.ok(got.body.equals(manifest), '`kit pull` gets the ModelKit back as pushed');
  });

  test('bad input: a KitOps config that is not a Kitfile is refused, nothing stored', async () => {
    const layer = {
      mediaType: 'application/vnd.kitops.modelkit.model.v1.tar',
      ...(await pushBlob('kit/bad', Buffer.from('not really a tar'))),
    };
    const config = await pushBlob('kit/bad', Buffer.from('manifestVersion: 1.0.0\n'));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        config: { mediaType: 'application/vnd.kitops.modelkit.config.v1+json', ...config },
        layers: [layer],
      }),
    );
    assertError(await putManifest('kit/bad', 'staging', manifest), 400, 'MANIFEST_INVALID', /KitOps config .* not valid JSON/);
    assert.equal((await api(server, 'GET', '/v1/models/kit/bad')).status, 404);
  });
});

describe('Docker model artifacts (as `docker model push` writes them)', () => {
  test('layers named by their filepath annotations; a writer cannot move production with one', async () => {
    const gguf = Buffer.concat([Buffer.from('GGUF'), randomBytes(4096)]);
    const license = Buffer.from('Apache-2.0\n');
    const template = Buffer.from('{{ messages }}');
    const ann = (path: string, data: Buffer) => ({
      'org.cncf.model.file.mediatype.untested': 'false',
      'org.cncf.model.file.metadata+json': JSON.stringify({
        name: path,
        mode: 420,
        uid: 0,
        gid: 0,
        size: data.length,
        mtime: '2026-01-01T00:00:00Z',
        typeflag: 0,
      }),
      'org.cncf.model.filepath': path,
    });
    const layers = [
      { mediaType: 'application/vnd.docker.ai.gguf.v3', ...(await pushBlob('ai/smol', gguf)), annotations: ann('model.gguf', gguf) },
      { mediaType: 'application/vnd.docker.ai.license', ...(await pushBlob('ai/smol', license)), annotations: ann('LICENSE', license) },
      {
        mediaType: 'application/vnd.docker.ai.chat.template.jinja',
        ...(await pushBlob('ai/smol', template)),
        annotations: ann('template.jinja', template),
      },
    ];
    const config = await pushBlob(
      'ai/smol',
      Buffer.from(
        JSON.stringify({
          config: { format: 'gguf', quantization: 'Q4_0', parameters: '135M', architecture: 'llama', size: String(gguf.length) },
          descriptor: { created: '2026-01-01T00:00:00Z' },
          rootfs: { type: 'rootfs', diff_ids: layers.map((l) => l.digest) },
        }),
      ),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.docker.ai.model.config.v0.1+json', ...config },
        layers,
      }),
    );
    const denied = await putManifest('ai/smol', 'production', manifest);
    assertError(denied, 403, 'DENIED');
    assert.equal((await api(server, 'GET', '/v1/models/ai/smol')).status, 404, 'refused before anything was registered');

    const put = await putManifest('ai/smol', 'latest', manifest);
    assert.equal(put.status, 201, put.body.toString());
    assert.deepEqual(await files('ai/smol', 'latest'), {
      LICENSE: { size: license.length, digest: sha256(license) },
      'model.gguf': { size: gguf.length, digest: sha256(gguf) },
      'template.jinja': { size: template.length, digest: sha256(template) },
    });
    assert.ok((await download('ai/smol', 'latest', 'model.gguf')).equals(gguf));
  });
});

describe('skopeo round trips of a ModelPack artifact', () => {
  test('dir: → registry → dir: keeps every digest; skopeo inspect --raw shows the pushed manifest', async () => {
    const version = await exec('skopeo', ['--version']).catch(() => null);
    assert.ok(version, 'skopeo is required for this test (.ci/run installs it)');
    const src = join(work, 'mp-dir');
    await mkdir(src);
    const put = async (data: Buffer) => {
      const digest = sha256(data);
      await writeFile(join(src, digest.slice(7)), data);
      return { digest, size: data.length };
    };
    const weights = randomBytes(100_000);
    const docs = await tarOf({ 'README.md': '# skopeo\n', LICENSE: 'MIT\n' }, false);
    const config = Buffer.from(
      JSON.stringify({ descriptor: { name: 'sk' }, config: {}, modelfs: { type: 'layers', diffIds: [sha256(weights), sha256(docs)] } }),
    );
    const manifest = Buffer.from(
      JSON.stringify(
        {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: 'application/vnd.cncf.model.manifest.v1+json',
          config: { mediaType: 'application/vnd.cncf.model.config.v1+json', ...(await put(config)) },
          layers: [
            {
              mediaType: 'application/vnd.cncf.model.weight.v1.raw',
              ...(await put(weights)),
              annotations: { 'org.cncf.model.filepath': 'weights/model.safetensors' },
            },
            {
              mediaType: 'application/vnd.cncf.model.doc.v1.tar',
              ...(await put(docs)),
              annotations: { 'org.cncf.model.filepath': 'docs' },
            },
          ],
        },
        null,
        2,
      ),
    );
    await writeFile(join(src, 'manifest.json'), manifest);
    await writeFile(join(src, 'version'), 'Directory Transport Version: 1.1\n');
    const registry = `127.0.0.1:${server.port}`;
    await exec('skopeo', [
      'copy',
      '--preserve-digests',
      '--dest-creds',
      `skopeo:${writer}`,
      '--dest-tls-verify=false',
      `dir:${src}`,
      `docker://${registry}/sk/model:staging`,
    ]);

    assert.deepEqual(await files('sk/model', 'staging'), {
      'docs.tar': { size: docs.length, digest: sha256(docs) },
      'weights/model.safetensors': { size: weights.length, digest: sha256(weights) },
    });
    const raw = await exec('skopeo', [
      'inspect',
      '--raw',
      '--creds',
      `skopeo:${reader}`,
      '--tls-verify=false',
      `docker://${registry}/sk/model:staging`,
    ]);
    assert.ok(Buffer.from(raw.stdout).equals(manifest));

    const out = join(work, 'mp-out');
    await exec('skopeo', [
      'copy',
      '--src-creds',
      `skopeo:${reader}`,
      '--src-tls-verify=false',
      `docker://${registry}/sk/model:v1`,
      `dir:${out}`,
    ]);
    assert.ok((await readFile(join(out, 'manifest.json'))).equals(manifest));
    for (const data of [config, weights, docs]) assert.ok((await readFile(join(out, sha256(data).slice(7)))).equals(data));
  });

  test('a generated manifest copied out with skopeo keeps its bytes, its file metadata annotations and every blob', async () => {
    const weights = randomBytes(50_000);
    await registerFiles(server, 'sk/generated', { 'model.safetensors': weights, 'config.json': '{"a":1}' });
    const registry = `127.0.0.1:${server.port}`;
    const served = await oci('GET', '/v2/sk/generated/manifests/v1', reader, undefined, { Accept: OCI_MANIFEST });
    assert.equal(served.status, 200);
    const out = join(work, 'generated-out');
    await exec('skopeo', [
      'copy',
      '--src-creds',
      `skopeo:${reader}`,
      '--src-tls-verify=false',
      `docker://${registry}/sk/generated:v1`,
      `dir:${out}`,
    ]);
    const copied = await readFile(join(out, 'manifest.json'));
    assert.ok(copied.equals(served.body), 'skopeo kept the manifest byte for byte (so its digest)');
    const doc = JSON.parse(copied.toString());
    assert.deepEqual(
      doc.layers.map((l: any) => {
        const meta = JSON.parse(l.annotations['org.cncf.model.file.metadata+json']);
        return [l.annotations['org.cncf.model.filepath'], meta.name, meta.size, meta.mode, meta.typeflag];
      }),
      [
        ['config.json', 'config.json', 7, 0o644, 0],
        ['model.safetensors', 'model.safetensors', weights.length, 0o644, 0],
      ],
    );
    assert.ok((await readFile(join(out, sha256(weights).slice(7)))).equals(weights));
    assert.equal(sha256(await readFile(join(out, doc.config.digest.slice(7)))), doc.config.digest);
  });
});
