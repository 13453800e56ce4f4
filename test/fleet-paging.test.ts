// GET /v1/fleet pages: a model's instances by cursor and limit (versions and aliases still count
// every instance), the overview's models the same way, the CLI following the pages, and bad
// paging input refused with a clear 400. Its own server: the main fleet test caps the store at 400 rows.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ModelgateClient } from '../src/client/index.js';
import { parseJson, runCli } from './harness/cli.js';
import { api, registerFiles, waitFor } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';

let server: TestServer;
const INSTANCES = 1005;

before(async () => {
  server = await startServer({ env: { MODELGATE_FLEET_FLUSH_MS: '100' } });
});

after(async () => {
  await server.dispose();
});

const cli = (args: string[]) => runCli([...args, '--server', server.url], { MODELGATE_TOKEN: server.token });

/** Resolves `model@live` once as each of `identities`, a few at a time over keep-alive connections. */
async function resolveAs(model: string, identities: string[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const one = (identity: string) =>
    new Promise<void>((resolve, reject) => {
      const headers = { authorization: `Bearer ${server.token}`, 'x-modelgate-deployment': identity };
      const req = http.request({ host: '127.0.0.1', port: server.port, path: `/v1/resolve/${model}@live`, agent, headers }, (res) => {
        res.resume();
        res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`resolve answered ${res.statusCode}`))));
      });
      req.once('error', reject);
      req.end();
    });
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < identities.length) await one(identities[next++]!);
    }),
  );
  agent.destroy();
}

async function registerLive(model: string): Promise<void> {
  const v = await registerFiles(server, model, { 'w.bin': `${model} weights` });
  assert.equal((await api(server, 'PUT', `/v1/models/${model}/aliases/live`, { version: v.version })).status, 200);
}

async function get(path: string): Promise<any> {
  const res = await api(server, 'GET', path);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

const names = (instances: any[]) => instances.map((i) => `${i.deployment}/${i.instance}`);

describe('fleet view paging', () => {
  before(async () => {
    await registerLive('paged');
    // Two deployments, instance names that do not sort by number: the order is by name.
    const identities = Array.from({ length: INSTANCES }, (_, n) => `${n % 2 ? 'api' : 'batch'}/pod-${n}`);
    await resolveAs('paged', identities);
    await waitFor(async () => (await get('/v1/fleet?model=paged')).versions[0]?.instances === INSTANCES, 30_000, 'every instance');
  });

  test('a model’s instances come in pages of `limit` after `cursor`; versions and aliases count them all', async () => {
    const first = await get('/v1/fleet?model=paged');
    assert.equal(first.instances.length, 1000, 'the default page');
    assert.equal(first.nextCursor, names(first.instances).at(-1));
    assert.equal(first.versions[0].instances, INSTANCES);
    assert.equal(first.aliases[0].current, INSTANCES);

    const pages: any[][] = [];
    let cursor: string | null = null;
    do {
      const page: any = await get(`/v1/fleet?model=paged&limit=400${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      pages.push(page.instances);
      assert.equal(page.versions[0].instances, INSTANCES, 'every page counts every instance');
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(
      pages.map((p) => p.length),
      [400, 400, 205],
    );
    const listed = names(pages.flat());
    assert.equal(new Set(listed).size, INSTANCES, 'no instance twice, none missing');
    const second = await get(`/v1/fleet?model=paged&cursor=${encodeURIComponent(first.nextCursor)}`);
    assert.deepEqual(listed, [...names(first.instances), ...names(second.instances)], 'the same order whatever the page size');
    assert.equal(second.nextCursor, null);
    assert.deepEqual(
      [...listed.slice(0, 3), listed.at(-1)],
      ['api/pod-1', 'api/pod-1001', 'api/pod-1003', 'batch/pod-998'],
      'by deployment, then instance name',
    );
  });

  test('modelgate fleet <name> follows the pages', async () => {
    const view = parseJson(await cli(['fleet', 'paged', '--json']));
    assert.equal(view.instances.length, INSTANCES);
    assert.equal(view.nextCursor, null);
  });

  test('the overview pages models by name; modelgate fleet lists them all', async () => {
    for (const model of ['paged-a', 'paged-b', 'paged-c']) {
      await registerLive(model);
      await resolveAs(model, [`svc/${model}-0`]);
    }
    await waitFor(async () => (await get('/v1/fleet')).models.length === 4, 30_000, 'four observed models');
    const listed: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await get(`/v1/fleet?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      listed.push(...page.models.map((m: any) => m.model));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    assert.deepEqual(listed, ['paged', 'paged-a', 'paged-b', 'paged-c']);
    assert.equal(pages, 2);
    const all = parseJson(await cli(['fleet', '--json']));
    assert.deepEqual(
      all.models.map((m: any) => m.model),
      listed,
    );
  });

  test('bad paging input: 400 with a clear code, and the server keeps serving', async () => {
    const cases: [string, string][] = [
      ['/v1/fleet?model=paged&limit=0', 'LIMIT_INVALID'],
      ['/v1/fleet?model=paged&limit=ten', 'LIMIT_INVALID'],
      ['/v1/fleet?model=paged&limit=-5', 'LIMIT_INVALID'],
      ['/v1/fleet?limit=1.5', 'LIMIT_INVALID'],
      ['/v1/fleet?model=paged&cursor=no-slash', 'CURSOR_INVALID'],
      [`/v1/fleet?model=paged&cursor=${encodeURIComponent('api/pod 1')}`, 'CURSOR_INVALID'],
      [`/v1/fleet?model=paged&cursor=${'a'.repeat(300)}/x`, 'CURSOR_INVALID'],
      [`/v1/fleet?cursor=${encodeURIComponent('not a model!')}`, 'CURSOR_INVALID'],
    ];
    for (const [path, code] of cases) {
      const res = await api(server, 'GET', path);
      assert.equal(res.status, 400, `${path}: ${res.text}`);
      assert.equal(res.json.error.code, code, path);
      assert.match(res.json.error.message, /limit|cursor/);
    }
    // A cursor past the last instance is an empty page, not an error.
    const past = await get(`/v1/fleet?model=paged&cursor=${encodeURIComponent('zzz/zzz')}`);
    assert.deepEqual([past.instances, past.nextCursor], [[], null]);
    assert.equal((await get('/v1/fleet?model=paged&limit=1')).instances.length, 1);
  });
});

test('the client reads a fleet answer without nextCursor (a server from before paging) as the last page', { timeout: 30_000 }, async () => {
  // A rolling upgrade puts a new CLI in front of an old server: its view has no nextCursor field.
  let requests = 0;
  const old = http.createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ model: 'old', generatedAt: new Date(0).toISOString(), versions: [], aliases: [], instances: [] }));
  });
  await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
  try {
    const client = new ModelgateClient({ baseUrl: `http://127.0.0.1:${(old.address() as AddressInfo).port}` });
    const view = await client.fleet('old');
    assert.equal(requests, 1, 'one request: no page after the only one');
    assert.equal(view.nextCursor, null);
  } finally {
    await new Promise((resolve) => old.close(resolve));
  }
});
