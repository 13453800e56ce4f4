import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { api } from './harness/http.js';
import { CLI, startServer } from './harness/server.js';

test('defaults load, and file < environment < flags', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-config-'));
  try {
    const file = join(dir, 'c.yaml');
    await writeFile(file, 'server:\n  port: 9000\n  host: 0.0.0.0\nhashing:\n  threads: 3\n');
    const cfg = loadConfig({ file, env: { MODELGATE_PORT: '9001' }, overrides: { 'server.port': '9002' } });
    assert.equal(cfg.server.port, 9002);
    assert.equal(cfg.server.host, '0.0.0.0');
    assert.equal(cfg.hashing.threads, 3);
    assert.equal(loadConfig({ file, env: { MODELGATE_PORT: '9001' } }).server.port, 9001);
    assert.equal(loadConfig({ env: {} }).storage.dataDir, './data');
    // 6000 rehearsed changes compile lmdb-js's commit closure before serving; 2000 left it to change ~227 (bench/results/20261206-propagation-trace.md).
    assert.equal(loadConfig({ env: {} }).control.warmUpChanges, 6000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bad value is refused with the key and where it came from', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-config-'));
  try {
    assert.throws(
      () => loadConfig({ env: { MODELGATE_PORT: 'eighty' } }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /server\.port/);
        assert.match(err.message, /MODELGATE_PORT/);
        return true;
      },
    );
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'server:\n  prot: 80\n');
    assert.throws(() => loadConfig({ file, env: {} }), /server\.prot.*bad\.yaml|unrecognized/i);
    await writeFile(file, 'blobs:\n  backend: ftp\n');
    assert.throws(() => loadConfig({ file, env: {} }), /blobs\.backend/);
    assert.throws(() => loadConfig({ env: { MODELGATE_ADMIN_TOKEN: 'short' } }), /auth\.adminToken/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

test('signing.trustedKeys: files, FILE@UNTIL from the environment, {file, validUntil} in a file; a bad validUntil is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-config-'));
  try {
    const env = { MODELGATE_SIGNING_TRUSTED_KEYS: 'a.pem, b.pem@2027-01-01T00:00:00Z' };
    assert.deepEqual(loadConfig({ env }).signing.trustedKeys, ['a.pem', 'b.pem@2027-01-01T00:00:00Z']);
    const file = join(dir, 'keys.yaml');
    await writeFile(file, 'signing:\n  trustedKeys:\n    - a.pem\n    - {file: b.pem, validUntil: "2027-01-01T00:00:00+02:00"}\n');
    assert.deepEqual(loadConfig({ file, env: {} }).signing.trustedKeys, [
      'a.pem',
      { file: 'b.pem', validUntil: '2027-01-01T00:00:00+02:00' },
    ]);
    const bad = join(dir, 'bad-keys.yaml');
    await writeFile(bad, 'signing:\n  trustedKeys:\n    - {file: b.pem, validUntil: "next year"}\n');
    assert.throws(() => loadConfig({ file: bad, env: {} }), /signing\.trustedKeys/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('signing.certificateIdentities: read from a file; a CA file that is not a PEM CA chain stops the start, naming it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-config-'));
  try {
    const file = join(dir, 'certs.yaml');
    const notPem = join(dir, 'not-a-ca.pem');
    await writeFile(notPem, 'hello');
    await writeFile(
      file,
      `signing:\n  certificateIdentities:\n    - {caFile: ${JSON.stringify(notPem)}, subjectAlternativeName: a@example.com}\n`,
    );
    assert.deepEqual(loadConfig({ file, env: {} }).signing.certificateIdentities, [
      { caFile: notPem, subjectAlternativeName: 'a@example.com' },
    ]);
    const res = await runCli(['serve', '--config', file, '--port', '0'], { MODELGATE_DATA_DIR: join(dir, 'data') });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /signing\.certificateIdentities: .*not-a-ca\.pem is not a readable PEM CA chain \(no PEM certificate in it\)/);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'signing:\n  certificateIdentities:\n    - {caFile: ca.pem}\n');
    assert.throws(() => loadConfig({ file: bad, env: {} }), /signing\.certificateIdentities/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('serve exits with a message naming the bad key', async () => {
  const res = await runCli(['serve', '--port', '70000'], {});
  assert.equal(res.code, 2);
  assert.match(res.stderr, /server\.port/);
  // A message for the person at the terminal: no stack trace (the launcher's bundled CLI runs serve's own module).
  assert.doesNotMatch(res.stderr, /\n\s+at /);
});

test('serve refuses to run on the pure-JS uWebSockets.js fallback', async () => {
  const res = await runCli(['serve', '--port', '0'], { UWS_USE_FALLBACK: 'true' });
  assert.equal(res.code, 3);
  assert.match(res.stderr, /refusing to start/);
});

test('first start without MODELGATE_ADMIN_TOKEN creates a token, prints it once, keeps its hash', async () => {
  const server = await startServer({ noAdminToken: true });
  try {
    // The token goes to stderr and "listening" to stdout: two pipes, so the token's line may be
    // read after the server counts as started. A token may end in "-", after which \b finds no boundary.
    const tokenPattern = /(?<![A-Za-z0-9_-])(mgt_[0-9a-f]{12}_[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/;
    for (let waited = 0; waited < 5000 && !tokenPattern.test(server.output.join('\n')); waited += 50)
      await new Promise((r) => setTimeout(r, 50));
    const printed = server.output.join('\n').match(tokenPattern);
    assert.ok(printed, 'the bootstrap token is printed');
    const token = printed[1]!;
    server.token = token;
    assert.equal((await api(server, 'GET', '/v1/models')).status, 200);
    await server.restart();
    assert.doesNotMatch(server.output.slice(-5).join('\n'), /mgt_/, 'not printed again');
    assert.equal((await api(server, 'GET', '/v1/models')).status, 200, 'the same token works after a restart');
    const { readFile, readdir } = await import('node:fs/promises');
    for (const f of await readdir(join(server.dataDir, 'index'))) {
      assert.ok(!(await readFile(join(server.dataDir, 'index', f))).includes(token), 'the token itself is not stored');
    }
  } finally {
    await server.dispose();
  }
});
