// HTTPS on the service's own port (server.tls): the API, the CLI and a WebSocket watch over TLS,
// Hub links that say https, plain HTTP refused on that port, and a bad certificate/key pair
// stopping the start with a message naming the file. Certificates come from the openssl command
// line (.ci/run installs it when missing).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ok, runCli } from './harness/cli.js';
import { startServer, type TestServer } from './harness/server.js';

let dir: string;
let cert: string;
let key: string;
let otherKey: string;
let ca: Buffer;
let server: TestServer;
let base: string;

/** A self-signed certificate for 127.0.0.1 and its key, and a second key that does not belong to it. */
function makeCertificate(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'other-key.pem');
}

function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { ca, headers: { Authorization: `Bearer ${server.token}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-tls-'));
  await writeFile(
    join(dir, 'openssl.cnf'),
    [
      '[req]',
      'distinguished_name = dn',
      'x509_extensions = ext',
      'prompt = no',
      '[dn]',
      'CN = 127.0.0.1',
      '[ext]',
      'subjectAltName = IP:127.0.0.1',
      '',
    ].join('\n'),
  );
  process.env.OPENSSL_CONF = join(dir, 'openssl.cnf');
  makeCertificate();
  delete process.env.OPENSSL_CONF;
  cert = join(dir, 'cert.pem');
  key = join(dir, 'key.pem');
  otherKey = join(dir, 'other-key.pem');
  ca = await readFile(cert);
  server = await startServer({ env: { MODELGATE_TLS_CERT_FILE: cert, MODELGATE_TLS_KEY_FILE: key } });
  base = `https://127.0.0.1:${server.port}`;
});
after(async () => {
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('HTTPS on the service port', () => {
  test('the API answers over TLS, and plain HTTP on that port gets no answer', async () => {
    const health = await get('/healthz');
    assert.equal(health.status, 200, health.body);
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/healthz`));
  });

  test('the CLI pushes and pulls over https (trusting the certificate through NODE_EXTRA_CA_CERTS), and a watch runs over wss', async () => {
    const env = { MODELGATE_URL: base, MODELGATE_TOKEN: server.token, NODE_EXTRA_CA_CERTS: cert };
    const src = join(dir, 'src');
    const out = join(dir, 'out');
    await rm(src, { recursive: true, force: true });
    execFileSync('mkdir', ['-p', src]);
    await writeFile(join(src, 'w.bin'), 'weights over tls');

    const ws = new WebSocket(`wss://127.0.0.1:${server.port}/v1/watch?models=tls/model`, {
      ca,
      headers: { Authorization: `Bearer ${server.token}` },
    });
    const messages: { type: string; action?: string }[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });

    ok(await runCli(['push', src, 'tls/model', '--alias', 'staging'], env));
    ok(await runCli(['pull', 'tls/model@staging', out], env));
    assert.equal(await readFile(join(out, 'w.bin'), 'utf8'), 'weights over tls');
    // Without the certificate trusted, the CLI refuses the connection rather than sending the token.
    const untrusted = await runCli(['resolve', 'tls/model@staging'], { ...env, NODE_EXTRA_CA_CERTS: '' });
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate/i);

    for (let i = 0; i < 100 && !messages.some((m) => m.action === 'alias.set'); i++) await new Promise((r) => setTimeout(r, 20));
    ws.close();
    assert.ok(
      messages.some((m) => m.action === 'alias.set'),
      JSON.stringify(messages),
    );
  });

  test('Hub API links say https when the service serves TLS itself (a proxy header still wins)', async () => {
    const src = join(dir, 'hub');
    execFileSync('mkdir', ['-p', src]);
    await writeFile(join(src, 'a.bin'), 'a');
    await writeFile(join(src, 'b.bin'), 'b');
    ok(await runCli(['push', src, 'tls/hub'], { MODELGATE_URL: base, MODELGATE_TOKEN: server.token, NODE_EXTRA_CA_CERTS: cert }));
    const page = await get('/api/models/tls/hub/tree/main?limit=1');
    assert.equal(page.status, 200, page.body);
    assert.match(String(page.headers.link), new RegExp(`^<https://127\\.0\\.0\\.1:${server.port}/api/models/tls/hub/tree/`));
    const proxied = await get('/api/models/tls/hub/tree/main?limit=1', { 'X-Forwarded-Proto': 'http' });
    assert.match(String(proxied.headers.link), /^<http:\/\//);
  });
});

describe('a bad certificate or key stops the start, naming the file', () => {
  const refused = async (env: Record<string, string>, message: RegExp) => {
    const err = await startServer({ env }).then(
      async (s) => {
        await s.dispose();
        return null;
      },
      (e: Error) => e,
    );
    assert.ok(err, 'the server started');
    assert.match(err.message, message);
  };

  test('a missing file, a key of another certificate, or only one of the two', async () => {
    await refused(
      { MODELGATE_TLS_CERT_FILE: join(dir, 'nope.pem'), MODELGATE_TLS_KEY_FILE: key },
      /server\.tls\.certFile .*nope\.pem cannot be read/,
    );
    await refused({ MODELGATE_TLS_CERT_FILE: cert, MODELGATE_TLS_KEY_FILE: otherKey }, /is not the private key of the certificate/);
    await refused({ MODELGATE_TLS_CERT_FILE: key, MODELGATE_TLS_KEY_FILE: key }, /is not a PEM certificate/);
    await refused({ MODELGATE_TLS_CERT_FILE: cert }, /give both server\.tls\.certFile and server\.tls\.keyFile/);
  });
});
