// bin/modelgate.js run as a user's shell runs it (its `#!/usr/bin/env -S …` line): a plain-http
// command starts without Node loading NODE_EXTRA_CA_CERTS (40-100 ms of every start otherwise);
// a command that may use TLS runs in a Node that loaded them. A certificate file that does not
// exist makes Node print "Ignoring extra certs from …" when it loads it, so stderr tells which.
// `serve` runs in a Node given the flags of src/cli/serve-node-flags.ts, restarted with them if need be.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { SERVE_NODE_FLAGS } from '../src/cli/serve-node-flags.js';
import { ok, runCli } from './harness/cli.js';
import { waitFor } from './harness/http.js';
import { CLI, spawnServer, startServer, stopChild, type TestServer } from './harness/server.js';

const MISSING_CA = '/nonexistent/modelgate-test-ca.pem';
/** dist/test/ → dist/src/cli/main.js: the service's entry without the launcher. */
const SERVICE_ENTRY = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const LOADED_CA = /Ignoring extra certs from `\/nonexistent\/modelgate-test-ca\.pem`/;

/** A local port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.dispose();
});

describe('the launcher and NODE_EXTRA_CA_CERTS', () => {
  test('a command against an http server runs without Node loading the certificates', async () => {
    const env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token, NODE_EXTRA_CA_CERTS: MISSING_CA };
    const run = ok(await runCli(['inventory', '--format', 'json'], env));
    assert.doesNotMatch(run.stderr, LOADED_CA);
    assert.doesNotThrow(() => JSON.parse(run.stdout), run.stdout);
    assert.doesNotMatch(ok(await runCli(['--version'], { NODE_EXTRA_CA_CERTS: MISSING_CA })).stderr, LOADED_CA);
  });

  test('an https server, in MODELGATE_URL or --server, runs the command in a Node that loaded them', async () => {
    const url = `https://127.0.0.1:${await closedPort()}`;
    for (const [args, env] of [
      [['resolve', 'a/b@production'], { MODELGATE_URL: url }],
      [['resolve', 'a/b@production', '--server', url], {}],
    ] as const) {
      const run = await runCli([...args], { ...env, NODE_EXTRA_CA_CERTS: MISSING_CA });
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, LOADED_CA);
      assert.match(run.stderr, /cannot reach https:\/\/127\.0\.0\.1/);
    }
  });

  test('serve runs in a Node that loaded them, and stops cleanly on a SIGTERM sent to the launcher', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'modelgate-launcher-'));
    const output: string[] = [];
    try {
      // spawnServer runs `node bin/modelgate.js serve`; through the `#!` line instead:
      const { child, port } = await spawnServer(dataDir, undefined, { NODE_EXTRA_CA_CERTS: MISSING_CA }, [], output, [CLI]);
      assert.match(output.join('\n'), LOADED_CA);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
      assert.equal(await stopChild(child), 0, output.join('\n'));
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('node bin/modelgate.js (no `#!` line) keeps the variable as set', async () => {
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, '--version'], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: MISSING_CA },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    assert.equal(run.code, 0);
    assert.match(run.stderr, LOADED_CA);
  });
});

/** The command line of a process (/proc/<pid>/cmdline), one argument an entry. */
async function commandLine(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
}

describe('the launcher and the Node flags serve runs with', () => {
  test('`node bin/modelgate.js serve` without them starts the service again, at once, in a Node given them', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'modelgate-launcher-'));
    const output: string[] = [];
    try {
      const { child, port } = await spawnServer(dataDir, undefined, {}, [], output, [process.execPath, CLI]);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
      const children = (await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean);
      assert.equal(children.length, 1, `the launcher's children: ${children.join(', ')}`);
      const service = await commandLine(Number(children[0]));
      for (const flag of SERVE_NODE_FLAGS) assert.ok(service.includes(flag), `the service's command line: ${service.join(' ')}`);
      assert.doesNotMatch(output.join('\n'), /node runs without/);
      assert.equal(await stopChild(child), 0, output.join('\n'));
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('a service it started stops when the launcher is killed outright (SIGKILL, which it cannot pass on)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'modelgate-launcher-'));
    const output: string[] = [];
    try {
      const { child, port } = await spawnServer(dataDir, undefined, {}, [], output, [process.execPath, CLI]);
      const service = Number((await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')).trim());
      assert.ok(service > 0, 'the launcher has a child');
      child.kill('SIGKILL');
      // Gone, or a zombie its new parent has not reaped yet.
      const exited = async () => (await readFile(`/proc/${service}/stat`, 'utf8').catch(() => ') Z ')).includes(') Z ');
      await waitFor(exited, 15_000, 'the orphaned service to exit');
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('given them, it runs the service in place; `node dist/src/cli/main.js serve` without them warns', async () => {
    // startServer runs `node <SERVE_NODE_FLAGS> bin/modelgate.js serve`.
    const service = await commandLine(server.child.pid!);
    for (const flag of SERVE_NODE_FLAGS) assert.ok(service.includes(flag), service.join(' '));
    assert.doesNotMatch(server.output.join('\n'), /node runs without/);
    const dataDir = await mkdtemp(join(tmpdir(), 'modelgate-launcher-'));
    const output: string[] = [];
    try {
      const { child } = await spawnServer(dataDir, undefined, {}, [], output, [process.execPath, SERVICE_ENTRY]);
      assert.match(output.join('\n'), /node runs without --min-semi-space-size=16/);
      assert.equal(await stopChild(child), 0, output.join('\n'));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
