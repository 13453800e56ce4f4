// Upgrading a data directory written by earlier releases: a version registered before ModelPack
// (its record has no ociLayout, as that code wrote it) and one registered with the first ModelPack
// layout (ociLayout "modelpack", no file metadata) keep serving the manifest bytes, and so the
// digests, they were first served with, after the upgrade and after another restart; a version
// registered now gets the current layout. "A manifest once served never changes."
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { open as openLmdb } from 'lmdb';
import { join } from 'node:path';
import { generateManifest } from '../src/oci/generate.js';
import { registerFiles } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let server: TestServer;

before(async () => {
  server = await startServer();
  await registerFiles(server, 'up/m', { 'model.bin': 'weights from the first release', 'config.json': '{"v":1}' });
  await registerFiles(server, 'up/m', { 'model.safetensors': 'weights from the ModelPack release' });
});

after(async () => {
  await server?.dispose();
});

async function manifest(ref: string): Promise<{ status: number; digest: string | null; body: Buffer }> {
  const res = await fetch(`${server.url}/v2/up/m/manifests/${ref}`, {
    headers: { Authorization: `Bearer ${server.token}`, Accept: OCI_MANIFEST },
  });
  return { status: res.status, digest: res.headers.get('docker-content-digest'), body: Buffer.from(await res.arrayBuffer()) };
}

test('versions written by earlier releases keep their manifest bytes and digests across the upgrade and restarts', async () => {
  await server.stop();
  // Rewrite the two records the way the earlier releases stored them.
  const env = openLmdb({ path: join(server.dataDir, 'index') });
  let first: any;
  let second: any;
  try {
    const versions = env.openDB({ name: 'versions' });
    const { ociLayout: _dropped, ...beforeModelPack } = versions.get(['up/m', 1]) as any;
    first = beforeModelPack;
    await versions.put(['up/m', 1], first);
    second = { ...(versions.get(['up/m', 2]) as any), ociLayout: 'modelpack' };
    await versions.put(['up/m', 2], second);
  } finally {
    await env.close();
  }
  await server.restart();
  await registerFiles(server, 'up/m', { 'model.safetensors': 'weights registered after the upgrade' });

  // The first release's bytes, written out here as that release's generator wrote them.
  const layer = (f: any) =>
    `{"mediaType":"application/vnd.modelgate.file","digest":"${f.digest}","size":${f.size},"annotations":{"org.opencontainers.image.title":"${f.path}"}}`;
  const sorted = [...first.files].sort((a: any, b: any) => (a.path < b.path ? -1 : 1));
  const firstBytes = Buffer.from(
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.modelgate.model.v1",' +
      `"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"${EMPTY_DIGEST}","size":2},"layers":[${sorted.map(layer).join(',')}],` +
      `"annotations":{"dev.modelgate.version.digest":"${first.digest}"}}`,
  );
  const secondBytes = generateManifest(second).bytes;
  assert.ok(!secondBytes.toString().includes('file.metadata'), 'the first ModelPack layout has no file metadata');

  for (const round of ['after the upgrade', 'after another restart']) {
    const v1 = await manifest('v1');
    assert.equal(v1.status, 200, round);
    assert.ok(v1.body.equals(firstBytes), `v1 byte for byte ${round}: ${v1.body}`);
    assert.equal(v1.digest, sha256(firstBytes));
    assert.ok((await manifest(sha256(firstBytes))).body.equals(firstBytes), `v1 by its pinned digest ${round}`);

    const v2 = await manifest('v2');
    assert.ok(v2.body.equals(secondBytes), `v2 byte for byte ${round}`);
    assert.equal((await manifest(sha256(secondBytes))).status, 200, `v2 by its pinned digest ${round}`);

    const v3 = JSON.parse((await manifest('v3')).body.toString());
    assert.ok(
      v3.layers.every((l: any) => l.annotations['org.cncf.model.file.metadata+json']),
      `a new version has file metadata ${round}`,
    );
    if (round === 'after the upgrade') await server.restart();
  }
});
