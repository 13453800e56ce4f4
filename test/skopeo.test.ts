// A real OCI client against modelgate: skopeo (Debian's package) copies a model artifact from an
// OCI image layout into modelgate and back out with digests unchanged; the result is then read
// through the v1 and Hugging Face APIs. Needs `skopeo` on PATH (.ci/run installs it).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, registerFiles } from './harness/http.js';
import { writeLayout } from './harness/oci-layout.js';
import { startServer, type TestServer } from './harness/server.js';
import { createToken } from './harness/tokens.js';

const INSTALL_HINT =
  'skopeo is required for this test: install it with `apt-get update && apt-get install -y skopeo` (.ci/run does this when it is missing)';

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error(INSTALL_HINT));
        return;
      }
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function skopeo(...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await run('skopeo', args);
  if (code !== 0) throw new Error(`skopeo ${args.join(' ')} exited ${code}:\n${stderr}`);
  return stdout;
}

/** `skopeo copy` arguments from one repository of the test registry to another: a reader reads, a writer pushes. */
function registryCopy(from: string, to: string): string[] {
  return [
    'copy',
    '--preserve-digests',
    '--src-creds',
    `skopeo:${reader}`,
    '--dest-creds',
    `skopeo:${writer}`,
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    `docker://${registry()}/${from}`,
    `docker://${registry()}/${to}`,
  ];
}

let server: TestServer;
let work: string;
let writer: string;
let reader: string;

before(async () => {
  const version = await run('skopeo', ['--version']);
  assert.equal(version.code, 0, `${INSTALL_HINT}\n${version.stderr}`);
  server = await startServer();
  writer = (await createToken(server, 'skopeo-writer', 'writer')).token;
  reader = (await createToken(server, 'skopeo-reader', 'reader', 'team/*')).token;
  work = await mkdtemp(join(tmpdir(), 'modelgate-skopeo-'));
});
after(async () => {
  await server?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

const registry = () => `127.0.0.1:${server.port}`;

/** The manifest digest index.json gives `tag`, and every blob of the layout by digest. */
async function readLayout(dir: string, tag: string): Promise<{ manifestDigest: string; blobs: Map<string, Buffer> }> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
  const entry = index.manifests.find((m: any) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(entry, `index.json of ${dir} has no manifest for ${tag}: ${JSON.stringify(index)}`);
  const blobs = new Map<string, Buffer>();
  for (const name of await readdir(join(dir, 'blobs', 'sha256')))
    blobs.set(`sha256:${name}`, await readFile(join(dir, 'blobs', 'sha256', name)));
  return { manifestDigest: entry.digest, blobs };
}

async function download(path: string, token: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(server.url + path, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

describe('skopeo', () => {
  test('copies an OCI layout into modelgate and back out, digests unchanged; v1 and HF read the result', async () => {
    const files = {
      'model.safetensors': randomBytes(3 * 1024 * 1024 + 17),
      'config.json': Buffer.from('{"architectures":["TinyNet"],"hidden_size":64}'),
      'tokenizer/vocab.txt': Buffer.from('[PAD]\n[UNK]\nhello\nworld\n'),
    };
    const src = await writeLayout(join(work, 'src'), 'v1', files);

    await skopeo(
      'copy',
      '--preserve-digests',
      '--dest-creds',
      `skopeo:${writer}`,
      '--dest-tls-verify=false',
      `oci:${src.dir}:v1`,
      `docker://${registry()}/team/model:staging`,
    );

    const head = await fetch(`${server.url}/v2/team/model/manifests/staging`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${reader}` },
    });
    assert.equal(head.headers.get('docker-content-digest'), src.manifestDigest);

    const out = join(work, 'out');
    await skopeo(
      'copy',
      '--preserve-digests',
      '--src-creds',
      `skopeo:${reader}`,
      '--src-tls-verify=false',
      `docker://${registry()}/team/model:staging`,
      `oci:${out}:staging`,
    );
    const copied = await readLayout(out, 'staging');
    const original = await readLayout(src.dir, 'v1');
    assert.equal(copied.manifestDigest, src.manifestDigest);
    assert.deepEqual([...copied.blobs.keys()].sort(), [...original.blobs.keys()].sort());
    for (const [digest, bytes] of original.blobs) assert.ok(copied.blobs.get(digest)!.equals(bytes), `blob ${digest} differs`);

    // The v1 API sees a version with the layers as files at their titles.
    const resolved = await api(server, 'GET', '/v1/resolve/team/model@staging');
    assert.equal(resolved.status, 200);
    assert.deepEqual(
      resolved.json.files.map((f: any) => f.path),
      ['config.json', 'model.safetensors', 'tokenizer/vocab.txt'],
    );
    for (const [path, bytes] of Object.entries(files)) {
      const v1 = await download(`/v1/models/team/model@staging/files/${path}`, reader);
      assert.equal(v1.status, 200);
      assert.ok(v1.body.equals(bytes), `v1 download of ${path} differs`);
      const hf = await download(`/team/model/resolve/staging/${path}`, reader);
      assert.equal(hf.status, 200, `HF download of ${path}`);
      assert.ok(hf.body.equals(bytes), `HF download of ${path} differs`);
    }
    // The push moved the alias through the registry and left a trail.
    const history = await api(server, 'GET', '/v1/models/team/model/aliases/staging/history');
    assert.equal(history.json.history.at(-1).actor.name, 'skopeo-writer');

    const tags = JSON.parse(
      await skopeo('list-tags', '--creds', `skopeo:${reader}`, '--tls-verify=false', `docker://${registry()}/team/model`),
    );
    assert.deepEqual(tags.Tags, ['staging', 'v1']);
  });

  test('a version registered through /v1 copies out as a ModelPack artifact whose layers are its files, and back in unchanged', async () => {
    const files = { 'weights/model.bin': randomBytes(200_000), 'README.md': Buffer.from('# fromv1\n') };
    const version = await registerFiles(server, 'team/fromv1', files);

    const out = join(work, 'fromv1');
    await skopeo(
      'copy',
      '--preserve-digests',
      '--src-creds',
      `skopeo:${reader}`,
      '--src-tls-verify=false',
      `docker://${registry()}/team/fromv1:v${version.version}`,
      `oci:${out}:v1`,
    );
    const layout = await readLayout(out, 'v1');
    const head = await fetch(`${server.url}/v2/team/fromv1/manifests/v${version.version}`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${reader}` },
    });
    assert.equal(layout.manifestDigest, head.headers.get('docker-content-digest'));
    // A CNCF ModelPack artifact: model-spec media types, each layer a file at its filepath annotation.
    const manifest = JSON.parse(layout.blobs.get(layout.manifestDigest)!.toString());
    assert.equal(manifest.artifactType, 'application/vnd.cncf.model.manifest.v1+json');
    assert.equal(manifest.config.mediaType, 'application/vnd.cncf.model.config.v1+json');
    const config = JSON.parse(layout.blobs.get(manifest.config.digest)!.toString());
    assert.deepEqual(config.modelfs, { type: 'layers', diffIds: manifest.layers.map((l: any) => l.digest) });
    assert.deepEqual(
      manifest.layers.map((l: any) => [l.annotations['org.cncf.model.filepath'], l.mediaType]),
      [
        ['README.md', 'application/vnd.cncf.model.doc.v1.raw'],
        ['weights/model.bin', 'application/vnd.cncf.model.weight.v1.raw'],
      ],
    );
    for (const layer of manifest.layers) {
      const path = layer.annotations['org.cncf.model.filepath'];
      assert.ok(layout.blobs.get(layer.digest)!.equals(files[path as keyof typeof files]), `layer ${path}`);
    }
    // (skopeo's `inspect --config` refuses artifacts: "unsupported image-specific operation".)
    const raw = await skopeo(
      'inspect',
      '--raw',
      '--creds',
      `skopeo:${reader}`,
      '--tls-verify=false',
      `docker://${registry()}/team/fromv1:v1`,
    );
    assert.ok(Buffer.from(raw).equals(layout.blobs.get(layout.manifestDigest)!));

    // To a dir: and back onto its own v<N> tag: skopeo finds the generated config already there,
    // and the registry takes the manifest as a restatement of the version.
    const dir = join(work, 'fromv1-dir');
    await skopeo(
      'copy',
      '--src-creds',
      `skopeo:${reader}`,
      '--src-tls-verify=false',
      `docker://${registry()}/team/fromv1:v1`,
      `dir:${dir}`,
    );
    assert.ok((await readFile(join(dir, 'manifest.json'))).equals(layout.blobs.get(layout.manifestDigest)!));
    await skopeo(
      'copy',
      '--preserve-digests',
      '--dest-creds',
      `skopeo:${writer}`,
      '--dest-tls-verify=false',
      `dir:${dir}`,
      `docker://${registry()}/team/fromv1:v1`,
    );
    const again = await fetch(`${server.url}/v2/team/fromv1/manifests/v1`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${reader}` },
    });
    assert.equal(again.headers.get('docker-content-digest'), layout.manifestDigest);
    assert.equal((await api(server, 'GET', '/v1/models/team/fromv1/versions')).json.versions.length, 1);

    // Pushed back to another repository: same manifest digest, same file list.
    await skopeo(
      'copy',
      '--preserve-digests',
      '--dest-creds',
      `skopeo:${writer}`,
      '--dest-tls-verify=false',
      `oci:${out}:v1`,
      `docker://${registry()}/team/roundtrip:staging`,
    );
    const back = await api(server, 'GET', '/v1/resolve/team/roundtrip@staging');
    assert.equal(back.json.digest, version.digest);
    const backHead = await fetch(`${server.url}/v2/team/roundtrip/manifests/staging`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${reader}` },
    });
    assert.equal(backHead.headers.get('docker-content-digest'), layout.manifestDigest);
  });

  test('registry to registry, and a writer pushing the protected production tag is denied', async () => {
    await skopeo(...registryCopy('team/model:staging', 'team/copy:canary'));
    const copy = await api(server, 'GET', '/v1/resolve/team/copy@canary');
    const source = await api(server, 'GET', '/v1/resolve/team/model@staging');
    assert.equal(copy.json.digest, source.json.digest);

    const denied = await run('skopeo', registryCopy('team/model:staging', 'team/model:production'));
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /denied/i);
    assert.match(denied.stderr, /approver/);
    const aliases = await api(server, 'GET', '/v1/models/team/model/aliases');
    assert.equal(aliases.json.aliases.production, undefined);

    const badCreds = await run('skopeo', [
      'inspect',
      '--raw',
      '--creds',
      'skopeo:wrong',
      '--tls-verify=false',
      `docker://${registry()}/team/model:staging`,
    ]);
    assert.notEqual(badCreds.code, 0);
    assert.match(badCreds.stderr, /unauthorized|authentication required/i);
  });

  test('skopeo delete deletes a version through the registry rule: a tag an alias holds is refused, a free version by digest goes', async () => {
    await registerFiles(server, 'team/skodel', { 'a.bin': 'skopeo delete one' });
    await registerFiles(server, 'team/skodel', { 'a.bin': 'skopeo delete two' });
    assert.equal((await api(server, 'PUT', '/v1/models/team/skodel/aliases/staging', { version: 2 })).status, 200);
    const admin = ['--creds', `skopeo:${server.token}`, '--tls-verify=false'];
    // skopeo resolves the tag to v2's manifest digest and deletes that: v2 is held by @staging.
    const held = await run('skopeo', ['delete', ...admin, `docker://${registry()}/team/skodel:staging`]);
    assert.notEqual(held.code, 0);
    assert.match(held.stderr, /held by @staging/);
    const head = await fetch(`${server.url}/v2/team/skodel/manifests/v1`, {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${server.token}` },
    });
    const one = head.headers.get('docker-content-digest')!;
    await skopeo('delete', ...admin, `docker://${registry()}/team/skodel@${one}`);
    assert.equal((await api(server, 'GET', '/v1/models/team/skodel/versions/1')).status, 404);
    assert.equal((await api(server, 'GET', '/v1/resolve/team/skodel@staging')).json.version, 2);
  });
});
