// Certificate-based model signatures, verified offline through the real service: a CA chain made
// in the test with openssl (a root and an intermediate), signing certificates it issues, OpenSSF
// model-signing bundles made by @sigstore/sign presenting those certificates (the v0.3 form with
// one certificate, and the v0.2 x509CertificateChain form OpenSSF model signing writes), checked by
// @sigstore/verify against the configured CA chain and signer identity. Refusals named: another
// identity, the right email from the wrong OIDC issuer, another CA, an expired certificate, a
// certificate not meant for signing, a keyless (transparency-logged) bundle, other files.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { modelSigningStatement } from '../src/domain/model-signing.js';
import { type BundleError, trustedIdentity, verifyDsseBundle } from '../src/lib/sigstore-bundle.js';
import { makeIntermediateCa, makeLeaf, makeRootCa, signWithCertificate, type TestCa, type TestLeaf } from './harness/certificates.js';
import { runCli } from './harness/cli.js';
import { api, registerFiles, sha256 } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';

const FILES = { 'model.bin': 'certified weights', 'config.json': '{"layers":3}' };
const fileList = (files: Record<string, string>) =>
  Object.entries(files).map(([path, c]) => ({ path, size: Buffer.byteLength(c), digest: sha256(c) }));
const ISSUER_OID = '1.3.6.1.4.1.57264.1.8';

let server: TestServer;
let dir: string;
let root: TestCa;
let intermediate: TestCa;
let chainFile: string;
let release: TestLeaf;
let env: Record<string, string>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-cert-signatures-'));
  root = makeRootCa(dir, 'root');
  intermediate = makeIntermediateCa(dir, 'intermediate', root);
  chainFile = join(dir, 'chain.pem');
  await writeFile(chainFile, root.certPem + intermediate.certPem);
  release = makeLeaf(intermediate, { san: 'email:release@example.com' });
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      'policy:',
      '  aliases:',
      '    release: {approvals: 0, separationOfDuties: false, requireSignature: true}',
      'signing:',
      '  certificateIdentities:',
      `    - {caFile: ${JSON.stringify(chainFile)}, subjectAlternativeName: release@example.com}`,
      `    - {caFile: ${JSON.stringify(chainFile)}, subjectAlternativeName: "https://ci.example/release.yml", issuer: "https://issuer.example"}`,
      '',
    ].join('\n'),
  );
  server = await startServer({ args: ['--config', config] });
  env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };
  await registerFiles(server, 'cert/m', FILES);
});

after(async () => {
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const post = (body: unknown) => api(server, 'POST', '/v1/models/cert/m/versions/1/signatures', body);
const signed = (leaf: TestLeaf, files = FILES, chain = false) =>
  signWithCertificate(leaf, modelSigningStatement('m', fileList(files)), chain);

describe('certificate-based model signatures', () => {
  test('refused and nothing stored: another identity or issuer, another CA, expired, not for signing, keyless, other files', async () => {
    const count = async () => (await api(server, 'GET', '/v1/models/cert/m/versions/1/signatures')).json.signatures.length;
    const before = await count();

    const someoneElse = await post(await signed(makeLeaf(intermediate, { san: 'email:intern@example.com' })));
    assert.equal(someoneElse.status, 400, someoneElse.text);
    assert.equal(someoneElse.json.error.code, 'SIGNATURE_IDENTITY_MISMATCH');
    assert.match(someoneElse.json.error.message, /for intern@example\.com\) chains to a configured CA but is not a configured signer/);

    const prefix = await post(await signed(makeLeaf(intermediate, { san: 'email:release@example.com.evil' })));
    assert.equal(prefix.json.error.code, 'SIGNATURE_IDENTITY_MISMATCH', 'the identity is matched whole, not as a pattern');

    const wrongIssuer = await post(
      await signed(
        makeLeaf(intermediate, {
          san: 'URI:https://ci.example/release.yml',
          extra: [`${ISSUER_OID} = ASN1:UTF8String:https://rogue.example`],
        }),
      ),
    );
    assert.equal(wrongIssuer.json.error.code, 'SIGNATURE_IDENTITY_MISMATCH');
    assert.match(wrongIssuer.json.error.message, /expected issuer=https:\/\/issuer\.example, got issuer=https:\/\/rogue\.example/);

    const otherCa = makeRootCa(dir, 'other-root');
    const foreign = await post(await signed(makeLeaf(otherCa, { san: 'email:release@example.com' })));
    assert.equal(foreign.status, 400);
    assert.equal(foreign.json.error.code, 'SIGNATURE_INVALID');
    assert.match(foreign.json.error.message, /does not verify against any configured CA/);

    const expired = await post(
      await signed(makeLeaf(intermediate, { san: 'email:release@example.com', start: '20200101000000Z', end: '20210101000000Z' })),
    );
    assert.equal(expired.status, 400);
    assert.equal(expired.json.error.code, 'SIGNATURE_CERTIFICATE_EXPIRED');
    assert.match(expired.json.error.message, /valid from 2020-01-01T00:00:00\.000Z to 2021-01-01T00:00:00\.000Z, not now/);

    const notYet = await post(await signed(makeLeaf(intermediate, { san: 'email:release@example.com', start: '20980101000000Z' })));
    assert.equal(notYet.json.error.code, 'SIGNATURE_CERTIFICATE_EXPIRED');

    const tlsOnly = await post(
      await signed(
        makeLeaf(intermediate, {
          san: 'email:release@example.com',
          usage: ['keyUsage = critical,keyEncipherment', 'extendedKeyUsage = serverAuth'],
        }),
      ),
    );
    assert.equal(tlsOnly.json.error.code, 'SIGNATURE_INVALID');
    assert.match(tlsOnly.json.error.message, /not meant for signing/);

    // A keyless bundle carries a Rekor entry: nothing here can check it, so it is refused as such.
    const keyless = await signed(release);
    keyless.verificationMaterial.tlogEntries = [
      {
        logIndex: '1',
        logId: { keyId: Buffer.alloc(32).toString('base64') },
        kindVersion: { kind: 'dsse', version: '0.0.1' },
        integratedTime: '1700000000',
        inclusionPromise: { signedEntryTimestamp: Buffer.from('set').toString('base64') },
        inclusionProof: {
          logIndex: '1',
          rootHash: Buffer.alloc(32).toString('base64'),
          treeSize: '2',
          hashes: [],
          checkpoint: { envelope: 'rekor.example - 1\n2\nAAAA\n' },
        },
        canonicalizedBody: Buffer.from('{}').toString('base64'),
      },
    ];
    const logged = await post(keyless);
    assert.equal(logged.json.error.code, 'SIGNATURE_INVALID', logged.text);
    assert.match(logged.json.error.message, /transparency-log entry or an RFC 3161 timestamp/);

    const otherFiles = await post(await signed(release, { ...FILES, 'model.bin': 'swapped' }));
    assert.equal(otherFiles.json.error.code, 'SIGNATURE_MISMATCH');

    const genuine = await signed(release);
    const forged = structuredClone(genuine);
    forged.dsseEnvelope.payload = Buffer.from(modelSigningStatement('m', fileList({ ...FILES, 'model.bin': 'x' })).toString()).toString(
      'base64',
    );
    assert.equal((await post(forged)).json.error.code, 'SIGNATURE_INVALID', 'a payload swapped under a genuine certificate signature');

    assert.equal(await count(), before, 'nothing was stored');
    assert.equal((await api(server, 'GET', '/healthz')).status, 200);
  });

  test('a bundle signed by the configured identity is verified, stored with who signed it, and satisfies a signature policy', async () => {
    const refused = await api(server, 'PUT', '/v1/models/cert/m/aliases/release', { version: 1 });
    assert.equal(refused.status, 403, 'the policy wants a signature first');

    const bundle = await signed(release);
    const res = await post(bundle);
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.keyId, /^[0-9a-f]{16}$/);
    assert.deepEqual(res.json.identity, { subjectAlternativeName: 'release@example.com' });
    const served = await api(server, 'GET', `/v1/models/cert/m/versions/1/signatures/${encodeURIComponent(res.json.id)}`);
    assert.deepEqual(served.json, bundle);
    const audit = await api(server, 'GET', '/v1/audit?action=version.sign');
    assert.equal(audit.json.entries.at(-1).details.identity, 'release@example.com');

    // The form OpenSSF model signing writes: the leaf and its chain in an x509CertificateChain.
    const chained = await signed(release, FILES, true);
    assert.ok(chained.verificationMaterial.x509CertificateChain, 'a v0.2 bundle with a certificate chain');
    assert.equal((await post(chained)).status, 201);

    // A URI identity from the expected OIDC issuer (the extension a Fulcio-style CA writes).
    const workflow = makeLeaf(intermediate, {
      san: 'URI:https://ci.example/release.yml',
      extra: [`${ISSUER_OID} = ASN1:UTF8String:https://issuer.example`],
    });
    const ci = await post(await signed(workflow));
    assert.equal(ci.status, 201, ci.text);
    assert.deepEqual(ci.json.identity, { subjectAlternativeName: 'https://ci.example/release.yml', issuer: 'https://issuer.example' });

    const moved = await api(server, 'PUT', '/v1/models/cert/m/aliases/release', { version: 1 });
    assert.equal(moved.status, 200, moved.text);
  });

  test('the CA chain must hold the intermediates, and is judged at the moment of verification', async () => {
    const bundle = await signed(release, FILES, true);
    // The bundle carries the intermediate, but a bundle's own certificates are not trusted.
    const rootOnly = trustedIdentity(root.certPem, 'release@example.com');
    assert.throws(() => verifyDsseBundle(bundle, { keys: [], identities: [rootOnly] }), /does not verify against any configured CA/);
    const both = trustedIdentity(root.certPem + intermediate.certPem, 'release@example.com');
    assert.equal(verifyDsseBundle(bundle, { keys: [], identities: [both] }).identity?.subjectAlternativeName, 'release@example.com');
    assert.throws(
      () => verifyDsseBundle(bundle, { keys: [], identities: [both] }, new Date('2100-01-01T00:00:00Z')),
      (err: BundleError) => err.code === 'SIGNATURE_CERTIFICATE_EXPIRED',
    );
    assert.throws(() => verifyDsseBundle(bundle, { keys: [], identities: [] }), /no certificate identities are configured/);
    assert.throws(() => trustedIdentity('not a certificate', 'x'), /no PEM certificate/);
    assert.throws(() => trustedIdentity(release.certPem, 'x'), /is not a CA certificate/);
  });

  test('modelgate pull --verify-signature --ca --identity downloads only what that signer signed', async () => {
    const good = join(dir, 'good');
    const run = await runCli(
      ['pull', 'cert/m@v1', good, '--verify-signature', '--ca', chainFile, '--identity', 'release@example.com'],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /verified with the certificate of release@example\.com/);
    assert.deepEqual((await readdir(good)).sort(), ['config.json', 'model.bin']);

    const wrong = join(dir, 'wrong');
    const refused = await runCli(
      ['pull', 'cert/m@v1', wrong, '--verify-signature', '--ca', chainFile, '--identity', 'intern@example.com'],
      env,
    );
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /no signature of cert\/m@v1 verifies/);
    assert.match(refused.stderr, /not a configured signer/);
    await assert.rejects(readdir(wrong), 'nothing was downloaded');

    const lone = await runCli(['pull', 'cert/m@v1', join(dir, 'lone'), '--verify-signature', '--ca', chainFile], env);
    assert.equal(lone.code, 2);
    assert.match(lone.stderr, /--ca and --identity go together/);
  });
});
