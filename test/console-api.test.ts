// The gateway's side of the console: the static route and its headers, the read APIs the console
// needs (whoami, the approval queue, policy status, rollback plan, the inventory rows), the
// reserved "ui" name segment, and the watch token carried in Sec-WebSocket-Protocol.
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { api, rawRequest, registerFiles, waitFor } from './harness/http.js';
import { seedConsole, type ConsoleTokens } from './harness/console-fixtures.js';
import { startServer, type TestServer } from './harness/server.js';
import { as } from './harness/tokens.js';

let server: TestServer;
let tokens: ConsoleTokens;
before(async () => {
  server = await startServer();
  tokens = await seedConsole(server);
});
after(async () => {
  await server.dispose();
});

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

test('/ redirects to /ui/, which serves the built console with a strict CSP and no cookie', async () => {
  const root = await fetch(`${server.url}/`, { redirect: 'manual' });
  assert.equal(root.status, 302);
  assert.equal(root.headers.get('location'), '/ui/');

  const page = await fetch(`${server.url}/ui/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type')!, /^text\/html/);
  assert.equal(page.headers.get('content-security-policy'), CSP);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  assert.equal(page.headers.get('cache-control'), 'no-cache');
  assert.equal(page.headers.get('set-cookie'), null);
  const html = await page.text();
  // No inline script: every <script> element loads a file from this origin.
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.ok(scripts.length >= 1);
  for (const [, attrs, body] of scripts) {
    assert.match(attrs!, /\bsrc="\/ui\/assets\/[^"]+\.js"/);
    assert.equal(body!.trim(), '');
  }
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
  assert.doesNotMatch(html, /<style/i, 'no inline styles');

  const script = scripts[0]![1]!.match(/src="([^"]+)"/)![1]!;
  const asset = await fetch(server.url + script, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('content-type')!, /^text\/javascript/);
  assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  // fetch decodes gzip itself; the raw bytes are checked below over a socket.
  assert.ok((await asset.text()).length > 1000);
});

test('the console is sent gzipped to clients that accept it, and whole to those that do not', async () => {
  const raw = Buffer.from(
    await rawRequest(server.port, 'GET /ui/ HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, br\r\nConnection: close\r\n\r\n'),
    'latin1',
  );
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, split).toString();
  assert.match(head, /content-encoding: gzip/i);
  assert.match(head, /vary: accept-encoding/i);
  assert.match(gunzipSync(raw.subarray(split + 4)).toString(), /<div id="app">/);
  const plain = await rawRequest(server.port, 'GET /ui/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.doesNotMatch(plain, /content-encoding/i);
  assert.match(plain, /<div id="app">/);
});

test('every console page URL serves the app; a missing asset is a 404 and other methods a 405', async () => {
  for (const path of [
    '/ui',
    '/ui/signin',
    '/ui/models/team/fraud',
    '/ui/models/team/fraud/v/2',
    '/ui/approvals',
    '/ui/audit?model=team/fraud',
  ]) {
    const res = await fetch(server.url + path);
    assert.equal(res.status, 200, path);
    assert.match(await res.text(), /<div id="app">/, path);
  }
  const missing = await api(server, 'GET', '/ui/assets/nope.js');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'NOT_FOUND');
  const post = await api(server, 'POST', '/ui/', '{}');
  assert.equal(post.status, 405);
  const head = await fetch(`${server.url}/ui/`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-security-policy'), CSP);
});

test('"ui" is reserved as a first name segment, so Hub URLs cannot reach the console (and nothing is stored)', async () => {
  for (const name of ['ui', 'ui/model']) {
    const res = await api(server, 'POST', '/v1/models', { name });
    assert.equal(res.status, 400, name);
    assert.equal(res.json.error.code, 'NAME_INVALID');
  }
  const listed = await api(server, 'GET', '/v1/models?prefix=ui');
  assert.deepEqual(listed.json.models, []);
  // Elsewhere in a name the word is ordinary.
  await registerFiles(server, 'team/ui', { f: 'ui model' });
  assert.equal((await api(server, 'GET', '/v1/models/team/ui')).status, 200);
});

test('GET /v1/whoami: role, scope and the protected aliases; 401 without a valid token', async () => {
  const me = await as(server, tokens.scoped, 'GET', '/v1/whoami');
  assert.equal(me.status, 200);
  assert.deepEqual(
    { ...me.json, id: undefined },
    { id: undefined, name: 'sam-scoped', role: 'reader', scope: 'risk/*', protectedAliases: ['production'] },
  );
  const admin = await api(server, 'GET', '/v1/whoami');
  assert.equal(admin.json.role, 'admin');
  assert.equal(admin.json.scope, '*');
  assert.equal(JSON.stringify(admin.json).includes(server.token), false, 'never echoes the secret');
  const none = await fetch(`${server.url}/v1/whoami`);
  assert.equal(none.status, 401);
  const bad = await as(server, 'mgt_000000000000_notatoken', 'GET', '/v1/whoami');
  assert.equal(bad.status, 401);
  assert.equal(bad.json.error.code, 'UNAUTHORIZED');
});

test('GET /v1/approvals?status=pending: undecided versions across models in scope, with the gates they miss', async () => {
  const all = await as(server, tokens.reader, 'GET', '/v1/approvals?status=pending');
  assert.equal(all.status, 200);
  const keys = all.json.versions.map((v: any) => `${v.name}@${v.version}`);
  assert.ok(keys.includes('team/fraud@3'));
  assert.ok(keys.includes('risk/churn@1'));
  assert.ok(!keys.includes('team/fraud@1'), 'approved versions are not pending');
  const v3 = all.json.versions.find((v: any) => v.name === 'team/fraud' && v.version === 3);
  assert.equal(v3.previousApproved, 2);
  assert.deepEqual(v3.metrics.auc, { value: 0.94, dataset: 'holdout' });
  const prod = v3.policy.find((p: any) => p.alias === 'production');
  assert.deepEqual(prod.unmet.map((u: any) => u.code).sort(), ['APPROVALS', 'CARD_FIELD']);

  const scoped = await as(server, tokens.scoped, 'GET', '/v1/approvals?status=pending');
  assert.deepEqual([...new Set(scoped.json.versions.map((v: any) => v.name))], ['risk/churn']);

  // Paging one at a time visits the same versions in the same order.
  const paged: string[] = [];
  let cursor = '';
  for (let i = 0; i < 50; i++) {
    const page = await as(
      server,
      tokens.reader,
      'GET',
      `/v1/approvals?status=pending&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    paged.push(...page.json.versions.map((v: any) => `${v.name}@${v.version}`));
    if (!page.json.nextCursor) break;
    cursor = page.json.nextCursor;
  }
  assert.deepEqual(paged, keys);

  for (const [query, code] of [
    ['status=approved', 'STATUS_INVALID'],
    ['cursor=nonsense', 'CURSOR_INVALID'],
    ['limit=0', 'LIMIT_INVALID'],
  ]) {
    const res = await as(server, tokens.reader, 'GET', `/v1/approvals?${query}`);
    assert.equal(res.status, 400, query);
    assert.equal(res.json.error.code, code, query);
  }
});

test('policy status of a version says exactly what a promotion refusal says', async () => {
  const status = await as(server, tokens.reader, 'GET', '/v1/models/team/fraud/versions/3/policy');
  assert.equal(status.status, 200);
  const prod = status.json.aliases.find((p: any) => p.alias === 'production');
  assert.deepEqual(prod.requirements, {
    approvals: 1,
    separationOfDuties: true,
    requiredCardFields: ['intendedUse', 'limitations'],
    metrics: [],
    after: ['staging', 'shadow', 'canary'], // the default promotion path
    soakSeconds: 0,
    moveRole: 'approver',
  });
  const refused = await as(server, tokens.approver, 'PUT', '/v1/models/team/fraud/aliases/production', { version: 3 });
  assert.equal(refused.status, 403);
  assert.equal(refused.json.error.code, 'POLICY_UNMET');
  assert.deepEqual(refused.json.error.details, prod.unmet);
  const met = await as(server, tokens.reader, 'GET', '/v1/models/team/fraud/versions/2/policy');
  assert.deepEqual(met.json.aliases[0].unmet, []);
  assert.equal((await as(server, tokens.reader, 'GET', '/v1/models/team/fraud/versions/99/policy')).status, 404);
  assert.equal((await as(server, tokens.scoped, 'GET', '/v1/models/team/fraud/versions/3/policy')).status, 403);
});

test('GET …/aliases/{alias}/rollback plans the rollback that a POST without toVersion then performs', async () => {
  await registerFiles(server, 'plan/model', { f: 'one' });
  await registerFiles(server, 'plan/model', { f: 'two' });
  await api(server, 'PUT', '/v1/models/plan/model/aliases/live', { version: 1 });
  await api(server, 'PUT', '/v1/models/plan/model/aliases/live', { version: 2 });
  const plan = await as(server, tokens.reader, 'GET', '/v1/models/plan/model/aliases/live/rollback');
  assert.equal(plan.status, 200);
  assert.deepEqual(plan.json, { name: 'plan/model', alias: 'live', from: 2, to: 1 });
  const done = await api(server, 'POST', '/v1/models/plan/model/aliases/live/rollback');
  assert.equal(done.json.version, 1);
  const again = await api(server, 'GET', '/v1/models/plan/model/aliases/live/rollback');
  assert.equal(again.status, 409);
  assert.equal(again.json.error.code, 'NO_PREVIOUS_VERSION');
  assert.equal((await api(server, 'GET', '/v1/models/plan/model/aliases/nope/rollback')).status, 404);
});

test('GET /v1/models rows carry aliases and the newest version standing; q searches name, description, owner and tags', async () => {
  const found = await as(server, tokens.reader, 'GET', '/v1/models?q=FRAUD%20SCORER');
  assert.deepEqual(
    found.json.models.map((m: any) => m.name),
    ['team/fraud'],
  );
  const [fraud] = found.json.models;
  assert.deepEqual(fraud.aliases, { production: 2, staging: 3 });
  assert.equal(fraud.latest.version, 3);
  assert.equal(fraud.latest.status, 'registered');
  assert.deepEqual(
    (await as(server, tokens.reader, 'GET', '/v1/models?q=risk-ml')).json.models.map((m: any) => m.name),
    ['team/fraud'],
  );
  assert.deepEqual(
    (await as(server, tokens.reader, 'GET', '/v1/models?q=tabular')).json.models.map((m: any) => m.name),
    ['team/fraud'],
  );
  assert.deepEqual((await as(server, tokens.scoped, 'GET', '/v1/models?q=fraud')).json.models, [], 'scope still applies');
});

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

function openWatch(
  protocols: string[],
): Promise<{ ws: WebSocket; messages: any[]; protocol: string; responseHeaders: Record<string, unknown> }> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/watch?models=team/fraud`, protocols);
  const messages: any[] = [];
  let responseHeaders: Record<string, unknown> = {};
  ws.on('upgrade', (res) => (responseHeaders = res.headers));
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, protocol: ws.protocol, responseHeaders }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

test('watch: the token in Sec-WebSocket-Protocol authenticates, and the answer selects only modelgate.watch.v1', async () => {
  const w = await openWatch(['modelgate.watch.v1', `base64url.bearer.modelgate.${b64url(tokens.reader)}`]);
  assert.equal(w.protocol, 'modelgate.watch.v1');
  assert.equal(w.responseHeaders['sec-websocket-protocol'], 'modelgate.watch.v1');
  await waitFor(() => w.messages.length === 1, 3000, 'snapshot');
  assert.equal(w.messages[0].type, 'snapshot');
  assert.equal(w.messages[0].models['team/fraud'].staging.version, 3);
  w.ws.close();

  await assert.rejects(openWatch(['modelgate.watch.v1', `base64url.bearer.modelgate.${b64url('mgt_000000000000_wrong')}`]), /HTTP 401/);
  await assert.rejects(
    openWatch([`base64url.bearer.modelgate.${b64url(tokens.reader)}`]),
    /HTTP 400/,
    'the token alone would have to be echoed',
  );
  await assert.rejects(openWatch(['modelgate.watch.v1', 'base64url.bearer.modelgate.not+base64']), /HTTP 400/);
  await assert.rejects(openWatch(['modelgate.watch.v1']), /HTTP 401/, 'no token at all');
  await assert.rejects(
    openWatch(['modelgate.watch.v1', `base64url.bearer.modelgate.${b64url(tokens.scoped)}`]),
    /HTTP 403/,
    'scope is checked as for a header',
  );
});
