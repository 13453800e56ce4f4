// Signed models through the real service: OpenSSF model-signing bundles made in the test by a
// maintained signing library (@sigstore/sign's DSSE bundle builder with a key-based signer) are
// verified (@sigstore/verify) against the configured trusted key, compared with the version's
// files, stored and served; a policy can require one before an alias; `modelgate pull
// --verify-signature` checks one client-side before downloading. Refusals named: bundles for
// other files, by an untrusted key, tampered or malformed, with an inconsistent statement.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { open as openLmdb } from 'lmdb';
import { modelSigningStatement } from '../src/domain/model-signing.js';
import { KeyExpiredError, keySpec, trustedKey, verifyDsseBundle } from '../src/lib/sigstore-bundle.js';
import { runCli } from './harness/cli.js';
import { api, registerFiles, sha256 } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { keyPair, signStatement } from './harness/signing.js';
import { as, createToken } from './harness/tokens.js';

const FILES = { 'model.bin': 'signed weights', 'config.json': '{"layers":2}' };
const fileList = (files: Record<string, string>) =>
  Object.entries(files).map(([path, c]) => ({ path, size: Buffer.byteLength(c), digest: sha256(c) }));

const trusted = keyPair();
const stranger = keyPair();
/** Trusted until 2020: expired. */
const retired = keyPair();
/** Trusted until 2999. */
const expiring = keyPair();
let server: TestServer;
let dir: string;
let keyFile: string;
let env: Record<string, string>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-signatures-'));
  keyFile = join(dir, 'trusted.pub.pem');
  await writeFile(keyFile, trusted.publicPem);
  await writeFile(join(dir, 'stranger.pub.pem'), stranger.publicPem);
  await writeFile(join(dir, 'retired.pub.pem'), retired.publicPem);
  await writeFile(join(dir, 'expiring.pub.pem'), expiring.publicPem);
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      'policy:',
      '  aliases:',
      '    production: {approvals: 1, separationOfDuties: true, requiredCardFields: []}',
      '    release: {approvals: 0, separationOfDuties: false, requireSignature: true}',
      '',
    ].join('\n'),
  );
  const keys = [
    keyFile,
    `${join(dir, 'retired.pub.pem')}@2020-01-01T00:00:00Z`,
    `${join(dir, 'expiring.pub.pem')}@2999-01-01T00:00:00+01:00`,
  ];
  server = await startServer({ env: { MODELGATE_SIGNING_TRUSTED_KEYS: keys.join(',') }, args: ['--config', config] });
  env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };
  await registerFiles(server, 'signed/m', FILES);
  await registerFiles(server, 'signed/m', { 'model.bin': 'other weights' });
});

after(async () => {
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('model signatures', () => {
  test('a bundle over exactly the version files is verified, stored and served; an approval stays valid', async () => {
    const approver = await createToken(server, 'sig-approver', 'approver');
    assert.equal(
      (await as(server, approver.token, 'POST', '/v1/models/signed/m/versions/1/approvals', { decision: 'approve' })).status,
      201,
    );
    const bundle = await signStatement(trusted, modelSigningStatement('m', fileList(FILES)));
    const res = await api(server, 'POST', '/v1/models/signed/m/versions/1/signatures', bundle);
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.id, /^sha256:[0-9a-f]{64}$/);
    assert.match(res.json.keyId, /^[0-9a-f]{16}$/);
    assert.equal(res.json.modelName, 'm');
    assert.equal(res.json.bundle, undefined);

    const again = await api(server, 'POST', '/v1/models/signed/m/versions/1/signatures', bundle);
    assert.equal(again.status, 200, 'the same bundle again is the same signature');
    const listed = await api(server, 'GET', '/v1/models/signed/m/versions/1/signatures');
    assert.deepEqual(
      listed.json.signatures.map((s: any) => s.id),
      [res.json.id],
    );
    const served = await api(server, 'GET', `/v1/models/signed/m/versions/1/signatures/${encodeURIComponent(res.json.id)}`);
    assert.equal(served.status, 200);
    assert.deepEqual(served.json, bundle);

    const version = (await api(server, 'GET', '/v1/models/signed/m/versions/1')).json;
    assert.equal(version.status, 'approved', 'adding a signature does not void the approval');
    const bom = await api(server, 'GET', '/v1/models/signed/m/versions/1/bom');
    assert.ok(
      bom.json.metadata.component.properties.some((p: any) => p.name === 'modelgate:signature' && p.value.startsWith(res.json.id)),
      'the BOM lists the signature',
    );
    const audit = await api(server, 'GET', '/v1/audit?action=version.sign');
    assert.equal(audit.json.entries.length, 1);
    assert.equal(audit.json.entries[0].details.signature, res.json.id);
  });

  test('a policy requiring a signature refuses the alias until one is attached', async () => {
    const refused = await api(server, 'PUT', '/v1/models/signed/m/aliases/release', { version: 2 });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json.error.code, 'POLICY_UNMET');
    assert.deepEqual(
      refused.json.error.details.map((u: any) => u.code),
      ['SIGNATURE'],
    );
    const policy = await api(server, 'GET', '/v1/models/signed/m/versions/2/policy');
    assert.ok(policy.json.aliases.find((a: any) => a.alias === 'release').unmet.some((u: any) => u.code === 'SIGNATURE'));
    const bundle = await signStatement(trusted, modelSigningStatement('m', fileList({ 'model.bin': 'other weights' })));
    assert.equal((await api(server, 'POST', '/v1/models/signed/m/versions/2/signatures', bundle)).status, 201);
    const moved = await api(server, 'PUT', '/v1/models/signed/m/aliases/release', { version: 2 });
    assert.equal(moved.status, 200, moved.text);
    const inventory = await api(server, 'GET', '/v1/inventory?prefix=signed/m');
    const release = inventory.json.models[0].aliases.find((a: any) => a.alias === 'release');
    assert.equal(release.signatures, 1, 'the inventory shows the alias serves a signed version');
  });

  test('every other path that moves an alias meets the same requirement: rollback, OCI tag push, push --alias', async () => {
    const unsigned = await registerFiles(server, 'signed/m', { 'model.bin': 'unsigned weights' });
    const number = (typeof unsigned.version === 'number' ? unsigned.version : unsigned.version.version) as number;
    const rollback = await api(server, 'POST', '/v1/models/signed/m/aliases/release/rollback', { toVersion: number });
    assert.equal(rollback.status, 403, rollback.text);
    assert.ok(rollback.json.error.details.some((u: any) => u.code === 'SIGNATURE'));

    const basic = { Authorization: `Basic ${Buffer.from(`oci:${server.token}`).toString('base64')}` };
    const layer = Buffer.from('weights pushed over OCI');
    const config = Buffer.from('{}');
    for (const blob of [layer, config]) {
      const up = await fetch(`${server.url}/v2/signed/oci/blobs/uploads/?digest=${sha256(blob)}`, {
        method: 'POST',
        headers: { ...basic, 'Content-Type': 'application/octet-stream' },
        body: blob,
      });
      assert.equal(up.status, 201, await up.text());
    }
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.example.model.v1',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: config.length },
      layers: [
        {
          mediaType: 'application/octet-stream',
          digest: sha256(layer),
          size: layer.length,
          annotations: { 'org.opencontainers.image.title': 'model.bin' },
        },
      ],
    });
    const pushed = await fetch(`${server.url}/v2/signed/oci/manifests/release`, {
      method: 'PUT',
      headers: { ...basic, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    assert.equal(pushed.status, 403, await pushed.text());
    assert.equal((await api(server, 'GET', '/v1/models/signed/oci/aliases/release')).status, 404, 'the tag did not move');

    const src = join(dir, 'push-src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'model.bin'), 'pushed without a signature');
    const push = await runCli(['push', src, 'signed/cli', '--alias', 'release'], env);
    assert.equal(push.code, 1);
    assert.match(push.stderr, /SIGNATURE|signature/);
    assert.equal((await api(server, 'GET', '/v1/models/signed/cli/aliases/release')).status, 404);
  });

  test('push --signature attaches the bundle before --alias moves, so a signature-gated alias takes the new version in one command', async () => {
    const src = join(dir, 'push-signed');
    await mkdir(src, { recursive: true });
    const files = { 'model.bin': 'weights signed before pushing', 'tokenizer.json': '{"v":1}' };
    for (const [path, content] of Object.entries(files)) await writeFile(join(src, path), content);
    const bundleFile = join(dir, 'model.sig');
    await writeFile(bundleFile, JSON.stringify(await signStatement(trusted, modelSigningStatement('push-signed', fileList(files)))));
    const run = await runCli(['push', src, 'signed/pushed', '--signature', bundleFile, '--alias', 'release'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await api(server, 'GET', '/v1/models/signed/pushed/aliases/release')).json.version, 1);
    assert.equal((await api(server, 'GET', '/v1/models/signed/pushed/versions/1/signatures')).json.signatures.length, 1);

    await writeFile(bundleFile, JSON.stringify(await signStatement(stranger, modelSigningStatement('push-signed', fileList(files)))));
    await writeFile(join(src, 'model.bin'), 'other weights, wrong signer');
    const refused = await runCli(['push', src, 'signed/pushed', '--signature', bundleFile, '--alias', 'release'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /SIGNATURE_INVALID/);
    assert.equal((await api(server, 'GET', '/v1/models/signed/pushed/aliases/release')).json.version, 1, 'the alias did not move');
    const notJson = await runCli(['push', src, 'signed/pushed', '--signature', join(src, 'model.bin')], env);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /is not a readable JSON bundle/);
  });

  test('refused and nothing stored: other files, another file digest, an untrusted key, tampering, malformed bundles', async () => {
    const before = (await api(server, 'GET', '/v1/models/signed/m/versions/1/signatures')).json.signatures.length;
    const post = (body: unknown) => api(server, 'POST', '/v1/models/signed/m/versions/1/signatures', body);

    const extra = await post(await signStatement(trusted, modelSigningStatement('m', fileList({ ...FILES, 'extra.txt': 'x' }))));
    assert.equal(extra.status, 400);
    assert.equal(extra.json.error.code, 'SIGNATURE_MISMATCH');
    assert.match(extra.json.error.message, /extra\.txt: signed but not a file of this version/);

    const otherDigest = await post(
      await signStatement(trusted, modelSigningStatement('m', fileList({ ...FILES, 'model.bin': 'tampered' }))),
    );
    assert.equal(otherDigest.json.error.code, 'SIGNATURE_MISMATCH');
    assert.match(otherDigest.json.error.message, /model\.bin: signed sha256:/);

    const missing = await post(await signStatement(trusted, modelSigningStatement('m', fileList({ 'model.bin': FILES['model.bin'] }))));
    assert.match(missing.json.error.message, /config\.json: registered but not signed/);

    const wrongKey = await post(await signStatement(stranger, modelSigningStatement('m', fileList(FILES))));
    assert.equal(wrongKey.status, 400);
    assert.equal(wrongKey.json.error.code, 'SIGNATURE_INVALID');
    assert.match(wrongKey.json.error.message, /no trusted key verifies/);

    const genuine = await signStatement(trusted, modelSigningStatement('m', fileList(FILES)));
    const forged = structuredClone(genuine);
    forged.dsseEnvelope.payload = Buffer.from(
      modelSigningStatement('m', fileList({ ...FILES, 'model.bin': 'swapped' })).toString(),
    ).toString('base64');
    const tampered = await post(forged);
    assert.equal(tampered.json.error.code, 'SIGNATURE_INVALID', 'a payload swapped under a genuine signature');

    const inconsistent = JSON.parse(modelSigningStatement('m', fileList(FILES)).toString());
    inconsistent.subject[0].digest.sha256 = '0'.repeat(64);
    const badRoot = await post(await signStatement(trusted, Buffer.from(JSON.stringify(inconsistent))));
    assert.equal(badRoot.json.error.code, 'SIGNATURE_INVALID');
    assert.match(badRoot.json.error.message, /does not match its resources/);

    const notModelSigning = await post(
      await signStatement(
        trusted,
        Buffer.from(
          JSON.stringify({
            _type: 'https://in-toto.io/Statement/v1',
            subject: [],
            predicateType: 'https://slsa.dev/provenance/v1',
            predicate: {},
          }),
        ),
      ),
    );
    assert.match(notModelSigning.json.error.message, /predicate type/);

    for (const body of [
      {},
      { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' },
      [1, 2],
      { ...genuine, dsseEnvelope: { payload: 'x' } },
    ]) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 100));
      assert.equal(res.json.error.code, 'SIGNATURE_INVALID');
    }
    assert.equal((await post('{not json')).json.error.code, 'JSON_INVALID');
    assert.equal((await api(server, 'POST', '/v1/models/signed/m/versions/9/signatures', genuine)).json.error.code, 'VERSION_NOT_FOUND');
    const reader = await createToken(server, 'sig-reader', 'reader');
    assert.equal((await as(server, reader.token, 'POST', '/v1/models/signed/m/versions/1/signatures', genuine)).status, 403);

    const after = (await api(server, 'GET', '/v1/models/signed/m/versions/1/signatures')).json.signatures.length;
    assert.equal(after, before, 'nothing was stored');
    assert.equal((await api(server, 'GET', '/healthz')).status, 200);
  });

  test('trusted keys with an expiry: a bundle presented after it is refused with SIGNATURE_KEY_EXPIRED, one before it is taken', async () => {
    const post = (body: unknown) => api(server, 'POST', '/v1/models/signed/m/versions/2/signatures', body);
    const before = (await api(server, 'GET', '/v1/models/signed/m/versions/2/signatures')).json.signatures.length;
    const files = fileList({ 'model.bin': 'other weights' });
    const expired = await post(await signStatement(retired, modelSigningStatement('m', files)));
    assert.equal(expired.status, 400, expired.text);
    assert.equal(expired.json.error.code, 'SIGNATURE_KEY_EXPIRED');
    assert.match(expired.json.error.message, /expired at 2020-01-01T00:00:00\.000Z/);
    assert.match(expired.json.error.message, /no trusted signing time/);
    assert.equal((await api(server, 'GET', '/v1/models/signed/m/versions/2/signatures')).json.signatures.length, before, 'nothing stored');

    const valid = await post(await signStatement(expiring, modelSigningStatement('m', files)));
    assert.equal(valid.status, 201, valid.text);

    // The same rule on one process's clock: valid up to the instant, refused after it.
    const until = '2030-06-01T12:00:00.000Z';
    const key = trustedKey(retired.publicPem, until);
    const bundle = await signStatement(retired, modelSigningStatement('m', files));
    assert.equal(verifyDsseBundle(bundle, { keys: [key], identities: [] }, new Date('2030-06-01T11:59:59.999Z')).keyId, key.id);
    assert.throws(() => verifyDsseBundle(bundle, { keys: [key], identities: [] }, new Date('2030-06-01T12:00:00.001Z')), KeyExpiredError);
    // Another trusted key that verifies it still counts.
    assert.equal(
      verifyDsseBundle(bundle, { keys: [key, trustedKey(retired.publicPem)], identities: [] }, new Date('2031-01-01T00:00:00Z')).keyId,
      key.id,
    );
    assert.deepEqual(keySpec(`/k.pem@${until}`), { file: '/k.pem', validUntil: until });
    assert.deepEqual(keySpec('/k@home.pem'), { file: '/k@home.pem' });
    assert.throws(() => keySpec('/k.pem@2030-13-45T00:00:00Z'), /not a valid date-time/);
  });

  test('modelgate pull --verify-signature downloads only what a trusted key signed', async () => {
    const good = join(dir, 'good');
    const run = await runCli(['pull', 'signed/m@v1', good, '--verify-signature', '--key', keyFile], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /verified with key [0-9a-f]{16}/);
    assert.deepEqual((await readdir(good)).sort(), ['config.json', 'model.bin']);

    const wrong = join(dir, 'wrong');
    const refused = await runCli(['pull', 'signed/m@v1', wrong, '--verify-signature', '--key', join(dir, 'stranger.pub.pem')], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no signature of signed\/m@v1 verifies with the given key/);
    await assert.rejects(readdir(wrong), 'nothing was downloaded');

    await registerFiles(server, 'signed/unsigned', { w: 'none' });
    const unsigned = await runCli(['pull', 'signed/unsigned@v1', join(dir, 'unsigned'), '--verify-signature', '--key', keyFile], env);
    assert.equal(unsigned.code, 1);
    assert.match(unsigned.stderr, /has no signature; nothing was downloaded/);

    const expiredKey = await runCli(
      ['pull', 'signed/m@v1', join(dir, 'expired'), '--verify-signature', '--key', `${keyFile}@2020-01-01T00:00:00Z`],
      env,
    );
    assert.equal(expiredKey.code, 1);
    assert.match(expiredKey.stderr, /expired at 2020-01-01T00:00:00\.000Z/);
    await assert.rejects(readdir(join(dir, 'expired')), 'nothing was downloaded');
    const badUntil = await runCli(
      ['pull', 'signed/m@v1', join(dir, 'bad-until'), '--verify-signature', '--key', `${keyFile}@2020-13-45T00:00:00Z`],
      env,
    );
    assert.equal(badUntil.code, 2);
    assert.match(badUntil.stderr, /not a valid date-time/);

    const noKey = await runCli(['pull', 'signed/m@v1', join(dir, 'nokey'), '--verify-signature'], env);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /--key FILE/);
  });

  test('audit verify holds the signatures table to the log: an edited key id is reported', async () => {
    const intact = await api(server, 'GET', '/v1/audit/verify');
    assert.equal(intact.json.ok, true, JSON.stringify(intact.json.tables?.mismatches));
    const [sig] = (await api(server, 'GET', '/v1/models/signed/m/versions/1/signatures')).json.signatures;
    await server.stop();
    const lmdbEnv = openLmdb({ path: join(server.dataDir, 'index') });
    try {
      const db = lmdbEnv.openDB({ name: 'signatures' });
      const key = ['signed/m', 1, sig.id];
      await db.put(key, { ...(db.get(key) as object), keyId: 'ffffffffffffffff' });
    } finally {
      await lmdbEnv.close();
    }
    await server.restart();
    const res = await api(server, 'GET', '/v1/audit/verify');
    assert.equal(res.status, 409);
    const m = res.json.tables.mismatches.find((x: any) => x.table === 'signatures');
    assert.match(m.reason, /keyId is "ffffffffffffffff" in the table/);
  });
});
