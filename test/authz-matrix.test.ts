// The authorization matrix, walked through the real service over sockets: every route (the
// WebSocket /v1/watch upgrade included) × every role × a token scoped to `risk/*` used on a model in
// its scope (risk/score) and on one outside it (other/model), plus a `*` token for every role. Each call either succeeds (with the status the
// route gives on success, state prepared so that it can) or is a 403 FORBIDDEN that the audit log
// records under the caller's token id. Then the 401s: no token, unknown token, wrong secret,
// expired and revoked tokens; and the ops endpoints that need no token at all.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { sha256, waitFor } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { keyPair, signFiles } from './harness/signing.js';

type Role = 'reader' | 'writer' | 'approver' | 'admin' | 'auditor';
const ROLES: readonly Role[] = ['reader', 'writer', 'approver', 'admin', 'auditor'];
/** An auditor reads what a reader reads (and the audit log, by `roles` below); it writes nothing. */
const RANK: Record<Role, number> = { reader: 0, auditor: 0, writer: 1, approver: 2, admin: 3 };
const AUDIT_READERS: readonly Role[] = ['auditor', 'approver', 'admin'];

const SCOPED = 'risk/*';
const IN_MODEL = 'risk/score';
const OUT_MODEL = 'other/model';
const CARD = { intendedUse: 'score loan applications', limitations: 'not validated outside the EU' };

let server: TestServer;
/** The bootstrap admin token (principal id "admin"), used for setup and for reading the audit log. */
let ADMIN: string;
/** A `*` writer that registers every fixture version, so that other principals may approve them. */
let setupWriter: string;
/** tokens[scope][role]: the callers of the matrix. */
const tokens: Record<string, Record<Role, { id: string; token: string }>> = {};
/** The digest of each fixture model's v1 `model.bin`, unique to that model. */
const v1Blob: Record<string, string> = {};
/** A blob listed by a version of other/model and one of risk/score (other/model first). */
let sharedBlob: string;
/** A blob uploaded but listed by no version. */
let orphanBlob: string;

let counter = 0;
const uniq = () => `${process.pid}-${++counter}`;

interface Reply {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

/** One HTTP call with an explicit bearer token (or none); a Buffer body goes as octet-stream. */
async function call(
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const h: Record<string, string> = { ...headers };
  if (token !== null) h.Authorization = `Bearer ${token}`;
  let payload: string | Uint8Array | undefined;
  if (Buffer.isBuffer(body)) {
    payload = body;
    h['Content-Type'] ??= 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(server.url + path, { method, headers: h, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: parseJson(text), text };
}

function parseJson(text: string): any {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/**
 * A WebSocket upgrade (GET /v1/watch): 101 with the first message as the body, or the refusal's
 * status, headers and body.
 */
function callWs(token: string | null, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const h: Record<string, string> = { ...headers };
  if (token !== null) h.Authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(server.url.replace(/^http/, 'ws') + path, { headers: h });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the upgrade of ${path}`));
    }, 5000);
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.once('unexpected-response', (req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        const out = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : v);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: out, json: parseJson(text), text });
      });
    });
    ws.once('message', (data) => {
      clearTimeout(timer);
      const text = String(data);
      ws.close();
      resolve({ status: 101, headers: new Headers(), json: parseJson(text), text });
    });
  });
}

function expectStatus(res: Reply, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: expected ${status}, got ${res.status} ${res.text.slice(0, 300)}`);
}

async function createToken(
  name: string,
  role: Role,
  scope: string,
  extra: Record<string, unknown> = {},
): Promise<{ id: string; token: string }> {
  const res = await call(ADMIN, 'POST', '/v1/tokens', { name, role, scope, ...extra });
  expectStatus(res, 201, `creating token ${name}`);
  return { id: res.json.id, token: res.json.token };
}

/** The key whose model signatures the server trusts. */
const SIGNER = keyPair();
let keyDir = '';

/** A signature of the fixture model's v1, attached; returns its id. */
async function signFixture(model: string): Promise<{ bundle: unknown; id?: string }> {
  const version = await call(ADMIN, 'GET', `/v1/models/${model}/versions/1`);
  expectStatus(version, 200, 'reading the fixture version');
  return { bundle: await signFiles(SIGNER, model, version.json.files) };
}

/** A public documentation address (TEST-NET-3): passes the SSRF guard; nothing answers there. */
const HOOK_URL = 'http://203.0.113.10/hook';

async function createWebhook(events: string[] = ['webhook.ping']): Promise<string> {
  const res = await call(ADMIN, 'POST', '/v1/webhooks', { url: HOOK_URL, events });
  expectStatus(res, 201, 'creating a webhook');
  return res.json.id;
}

async function putBlob(content: Buffer): Promise<string> {
  const digest = sha256(content);
  const res = await call(ADMIN, 'POST', `/v1/blobs?digest=${digest}`, content);
  assert.ok(res.status === 201 || res.status === 200, `blob upload: ${res.status} ${res.text}`);
  return digest;
}

function fileList(content: Buffer, digest: string) {
  return [{ path: 'model.bin', size: content.length, digest }];
}

/** A new version of `model` registered by the setup writer (with a complete card), optionally approved by the admin. */
async function freshVersion(model: string, approve: boolean): Promise<number> {
  const content = Buffer.from(`${model} version ${uniq()}`);
  const digest = await putBlob(content);
  const reg = await call(setupWriter, 'POST', `/v1/models/${model}/versions`, { files: fileList(content, digest), card: CARD });
  expectStatus(reg, 201, `registering a fixture version of ${model}`);
  const n = reg.json.version as number;
  if (approve)
    expectStatus(
      await call(ADMIN, 'POST', `/v1/models/${model}/versions/${n}/approvals`, { decision: 'approve' }),
      201,
      'fixture approval',
    );
  // An approved fixture is meant for production: under the default promotion path it holds canary first.
  if (approve) await adminSetAlias(model, 'canary', n);
  return n;
}

async function adminSetAlias(model: string, alias: string, version: number): Promise<void> {
  expectStatus(
    await call(ADMIN, 'PUT', `/v1/models/${model}/aliases/${alias}`, { version }),
    200,
    `fixture ${model}@${alias} → v${version}`,
  );
}

/** An upload session; opened by the caller itself when it may, so the case works even if sessions become owner-bound. */
async function openSession(c: Ctx): Promise<string> {
  const res = await call(c.allowed ? c.token : ADMIN, 'POST', '/v1/uploads');
  expectStatus(res, 201, 'opening an upload session');
  return res.json.id as string;
}

// ---- the audit log ----

interface AuditEntry {
  seq: number;
  action: string;
  target: string;
  actor: { id: string; name: string };
  details: { method?: string; path?: string; status?: number; code?: string };
}

async function denied(query = ''): Promise<AuditEntry[]> {
  const res = await call(ADMIN, 'GET', `/v1/audit?action=denied&limit=10000${query}`);
  expectStatus(res, 200, 'reading the audit log');
  return res.json.entries as AuditEntry[];
}

const deniedFor = (actorId: string) => denied(`&actor=${encodeURIComponent(actorId)}`);

/**
 * Waits for exactly one new `denied.*` entry by `actorId` (beyond the first `seen`) and checks it.
 * The entry's target is the request path, or the model it was about with the path in its details.
 */
async function expectOneDenial(actorId: string, seen: number, method: string, path: string, status: number, model?: string): Promise<void> {
  let fresh: AuditEntry[] = [];
  await waitFor(
    async () => {
      fresh = (await deniedFor(actorId)).slice(seen);
      return fresh.length > 0;
    },
    5000,
    `a denied audit entry for ${actorId}: ${method} ${path}`,
  );
  assert.equal(fresh.length, 1, `one refusal, one audit entry: ${JSON.stringify(fresh)}`);
  const entry = fresh[0]!;
  assert.equal(entry.actor.id, actorId);
  assert.match(entry.action, /^denied\./);
  const bare = path.split('?')[0];
  if (entry.target !== bare) {
    assert.equal(entry.details.path, bare, `the refused path is recorded: ${JSON.stringify(entry)}`);
    assert.equal(entry.target, model, `the target is the path or the model: ${JSON.stringify(entry)}`);
  }
  assert.equal(entry.details.method, method);
  assert.equal(entry.details.status, status);
}

// ---- the matrix ----

/** What one generated test works with. `v` holds what `prepare` set up for this call alone. */
interface Ctx {
  /** The model the call is about: in the caller's scope or not. */
  model: string;
  token: string;
  allowed: boolean;
  v: Record<string, any>;
}

interface Case {
  /** method and path template, as the test name shows them */
  name: string;
  method: string;
  path: (c: Ctx) => string;
  body?: (c: Ctx) => unknown;
  /** a WebSocket upgrade rather than a plain request; success is 101 */
  websocket?: boolean;
  minRole: Role;
  /**
   * model:  about one model; the token's scope must cover it.
   * none:   about no model (blob upload, upload sessions, model list); any scope may call it.
   * global: spans every model (audit, tokens, GC); needs a token scoped to `*`.
   */
  scoped: 'model' | 'none' | 'global';
  /** the roles allowed, when not every role from minRole up (the audit log's readers) */
  roles?: readonly Role[];
  /** how a caller whose role suffices but whose scope does not cover is answered, when not 403 (not audited: a GET) */
  outOfScope?: { status: number; code: string };
  /** the status of a successful call */
  ok: number;
  prepare?: (c: Ctx) => Promise<void>;
  check?: (res: Reply, c: Ctx) => void;
}

const m = (c: Ctx) => `/v1/models/${c.model}`;

const CASES: Case[] = [
  // --- reader, one model ---
  {
    name: 'GET /v1/resolve/{name}@{alias}',
    method: 'GET',
    path: (c) => `/v1/resolve/${c.model}@staging`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
    check: (r, c) => {
      assert.equal(r.json.name, c.model);
      assert.equal(r.headers.get('x-model-version'), '1');
    },
  },
  {
    name: 'HEAD /v1/resolve/{name}@{alias}',
    method: 'HEAD',
    path: (c) => `/v1/resolve/${c.model}@staging`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'GET /v1/models/{name}@{alias}/files/{path}',
    method: 'GET',
    path: (c) => `${m(c)}@staging/files/model.bin`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
    check: (r, c) => assert.equal(r.text, `${c.model} v1`),
  },
  {
    name: 'HEAD /v1/models/{name}@{alias}/files/{path}',
    method: 'HEAD',
    path: (c) => `${m(c)}@staging/files/model.bin`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'GET /v1/blobs/{digest} (blob listed only by the model)',
    method: 'GET',
    path: (c) => `/v1/blobs/${v1Blob[c.model]}`,
    minRole: 'reader',
    scoped: 'model',
    // Another scope's blob answers as a missing one: nothing about other scopes shows.
    outOfScope: { status: 404, code: 'BLOB_NOT_FOUND' },
    ok: 200,
    check: (r, c) => assert.equal(r.text, `${c.model} v1`),
  },
  {
    name: 'HEAD /v1/blobs/{digest} (blob listed only by the model)',
    method: 'HEAD',
    path: (c) => `/v1/blobs/${v1Blob[c.model]}`,
    minRole: 'reader',
    scoped: 'model',
    outOfScope: { status: 404, code: 'BLOB_NOT_FOUND' },
    ok: 200,
  },
  {
    name: 'GET /v1/blobs/{digest} (blob listed by other/model and risk/score)',
    method: 'GET',
    path: () => `/v1/blobs/${sharedBlob}`,
    minRole: 'reader',
    scoped: 'none',
    ok: 200,
    check: (r) => assert.equal(r.text, 'shared by two models'),
  },
  {
    name: 'GET /v1/models/{name}',
    method: 'GET',
    path: m,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
    check: (r, c) => assert.equal(r.json.name, c.model),
  },
  { name: 'GET /v1/models/{name}/versions', method: 'GET', path: (c) => `${m(c)}/versions`, minRole: 'reader', scoped: 'model', ok: 200 },
  {
    name: 'GET /v1/models/{name}/versions/{n}',
    method: 'GET',
    path: (c) => `${m(c)}/versions/1`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'GET /v1/models/{name}/versions/{n}/history',
    method: 'GET',
    path: (c) => `${m(c)}/versions/1/history`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'GET /v1/models/{name}/versions/{n}/bom',
    method: 'GET',
    path: (c) => `${m(c)}/versions/1/bom`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
    check: (r, c) => assert.equal(r.json.metadata.component['bom-ref'], `${c.model}@v1`),
  },
  {
    name: 'GET /v1/inventory',
    method: 'GET',
    path: () => '/v1/inventory',
    minRole: 'reader',
    scoped: 'none',
    ok: 200,
    check: (r, c) => {
      const names = (r.json.models as { name: string }[]).map((x) => x.name);
      assert.ok(names.includes(IN_MODEL), `${IN_MODEL} is in the inventory`);
      assert.equal(names.includes(OUT_MODEL), c.model !== IN_MODEL, `${OUT_MODEL} is in it only for a * token`);
    },
  },
  {
    name: 'POST /v1/models/{name}/versions/{n}/signatures',
    method: 'POST',
    path: (c) => `${m(c)}/versions/1/signatures`,
    prepare: async (c) => {
      c.v.bundle = (await signFixture(c.model)).bundle;
    },
    body: (c) => c.v.bundle,
    minRole: 'writer',
    scoped: 'model',
    ok: 201,
    check: (r) => assert.match(r.json.id, /^sha256:/),
  },
  {
    name: 'GET /v1/models/{name}/versions/{n}/signatures',
    method: 'GET',
    path: (c) => `${m(c)}/versions/1/signatures`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'GET /v1/models/{name}/versions/{n}/signatures/{id}',
    method: 'GET',
    path: (c) => `${m(c)}/versions/1/signatures/${encodeURIComponent(c.v.id)}`,
    prepare: async (c) => {
      const { bundle } = await signFixture(c.model);
      const added = await call(ADMIN, 'POST', `/v1/models/${c.model}/versions/1/signatures`, bundle);
      assert.ok(added.status === 201 || added.status === 200, `signing the fixture: ${added.status} ${added.text}`);
      c.v.id = added.json.id;
    },
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'GET /v1/models/{name}/versions/{n}/approvals',
    method: 'GET',
    path: (c) => `${m(c)}/versions/1/approvals`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
  },
  { name: 'GET /v1/models/{name}/aliases', method: 'GET', path: (c) => `${m(c)}/aliases`, minRole: 'reader', scoped: 'model', ok: 200 },
  {
    name: 'GET /v1/models/{name}/aliases/{alias}',
    method: 'GET',
    path: (c) => `${m(c)}/aliases/staging`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'GET /v1/models/{name}/aliases/{alias}/history',
    method: 'GET',
    path: (c) => `${m(c)}/aliases/staging/history`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'GET /v1/models/{name}/deployments',
    method: 'GET',
    path: (c) => `${m(c)}/deployments`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'GET /v1/models/{name}/lineage?ref=v1',
    method: 'GET',
    path: (c) => `${m(c)}/lineage?ref=v1`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
    check: (r, c) => assert.equal(r.json.root, `${c.model}@v1`),
  },
  {
    name: 'GET /v1/models/{name}/impact?ref=v1',
    method: 'GET',
    path: (c) => `${m(c)}/impact?ref=v1`,
    minRole: 'reader',
    scoped: 'model',
    ok: 200,
    check: (r, c) => assert.ok(r.json.versions.some((v: { name: string }) => v.name === c.model)),
  },
  {
    // Any scope may ask; the answer lists only models the scope covers.
    name: 'GET /v1/impact?target={blob digest}',
    method: 'GET',
    path: (c) => `/v1/impact?target=${v1Blob[c.model]}`,
    minRole: 'reader',
    scoped: 'none',
    ok: 200,
  },

  {
    name: 'GET /v1/watch?models={name} (WebSocket)',
    method: 'GET',
    websocket: true,
    path: (c) => `/v1/watch?models=${c.model}`,
    minRole: 'reader',
    scoped: 'model',
    ok: 101,
    check: (r, c) => {
      assert.equal(r.json.type, 'snapshot');
      assert.deepEqual(Object.keys(r.json.models), [c.model]);
    },
  },

  // --- reader, no model: the list shows only what the scope covers ---
  {
    name: 'GET /v1/models',
    method: 'GET',
    path: () => '/v1/models?limit=1000',
    minRole: 'reader',
    scoped: 'none',
    ok: 200,
    check: (r, c) => {
      const names = (r.json.models as { name: string }[]).map((x) => x.name);
      assert.ok(names.includes(IN_MODEL), `${IN_MODEL} is listed`);
      const scoped = c.model === IN_MODEL;
      assert.equal(names.includes(OUT_MODEL), !scoped, `${OUT_MODEL} is listed only for a * token: ${names.join(', ')}`);
      if (scoped)
        assert.ok(
          names.every((n) => n.startsWith('risk/')),
          `a risk/* token sees only risk/ models: ${names.join(', ')}`,
        );
    },
  },

  {
    name: 'GET /v1/watch (WebSocket, every model in scope)',
    method: 'GET',
    websocket: true,
    path: () => '/v1/watch',
    minRole: 'reader',
    scoped: 'none',
    ok: 101,
    check: (r, c) => {
      const names = Object.keys(r.json.models);
      assert.ok(names.includes(IN_MODEL), `${IN_MODEL} is watched`);
      assert.equal(names.includes(OUT_MODEL), c.model !== IN_MODEL, `${OUT_MODEL} is watched only with a * token: ${names.join(', ')}`);
    },
  },

  // --- writer, one model ---
  {
    name: 'POST /v1/models {name}',
    method: 'POST',
    path: () => '/v1/models',
    body: (c) => ({ name: `${c.model.split('/')[0]}/created-${c.v.id}`, description: 'matrix' }),
    prepare: async (c) => {
      c.v.id = uniq();
    },
    minRole: 'writer',
    scoped: 'model',
    ok: 201,
    check: (r, c) => assert.equal(r.json.name, `${c.model.split('/')[0]}/created-${c.v.id}`),
  },
  {
    name: 'PATCH /v1/models/{name}',
    method: 'PATCH',
    path: m,
    body: () => ({ description: `patched ${uniq()}` }),
    minRole: 'writer',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'POST /v1/models/{name}/versions',
    method: 'POST',
    path: (c) => `${m(c)}/versions`,
    prepare: async (c) => {
      const content = Buffer.from(`register ${uniq()}`);
      c.v.files = fileList(content, await putBlob(content));
    },
    body: (c) => ({ files: c.v.files, card: CARD }),
    minRole: 'writer',
    scoped: 'model',
    ok: 201,
  },
  {
    name: 'PATCH /v1/models/{name}/versions/{n}',
    method: 'PATCH',
    path: (c) => `${m(c)}/versions/1`,
    body: () => ({ metadata: { notes: `patched ${uniq()}` } }),
    minRole: 'writer',
    scoped: 'model',
    ok: 200,
  },
  {
    name: 'PUT /v1/models/{name}/aliases/{unprotected}',
    method: 'PUT',
    path: (c) => `${m(c)}/aliases/${c.v.alias}`,
    prepare: async (c) => {
      c.v.alias = `set-${uniq()}`;
    },
    body: () => ({ version: 2 }),
    minRole: 'writer',
    scoped: 'model',
    ok: 200,
    check: (r) => assert.equal(r.json.version, 2),
  },
  {
    name: 'DELETE /v1/models/{name}/aliases/{unprotected}',
    method: 'DELETE',
    path: (c) => `${m(c)}/aliases/${c.v.alias}`,
    prepare: async (c) => {
      c.v.alias = `del-${uniq()}`;
      await adminSetAlias(c.model, c.v.alias, 1);
    },
    minRole: 'writer',
    scoped: 'model',
    ok: 200,
    check: (r) => assert.equal(r.json.version, null),
  },
  {
    name: 'POST /v1/models/{name}/aliases/{unprotected}/rollback',
    method: 'POST',
    path: (c) => `${m(c)}/aliases/${c.v.alias}/rollback`,
    prepare: async (c) => {
      c.v.alias = `rb-${uniq()}`;
      await adminSetAlias(c.model, c.v.alias, 1);
      await adminSetAlias(c.model, c.v.alias, 2);
    },
    minRole: 'writer',
    scoped: 'model',
    ok: 200,
    check: (r) => assert.equal(r.json.version, 1),
  },

  // --- writer, no model ---
  {
    name: 'POST /v1/blobs?digest=',
    method: 'POST',
    path: (c) => `/v1/blobs?digest=${sha256(c.v.content)}`,
    prepare: async (c) => {
      c.v.content = Buffer.from(`monolithic ${uniq()}`);
    },
    body: (c) => c.v.content,
    minRole: 'writer',
    scoped: 'none',
    ok: 201,
  },
  { name: 'POST /v1/uploads', method: 'POST', path: () => '/v1/uploads', minRole: 'writer', scoped: 'none', ok: 201 },
  {
    name: 'GET /v1/uploads/{id}',
    method: 'GET',
    path: (c) => `/v1/uploads/${c.v.id}`,
    prepare: async (c) => {
      c.v.id = await openSession(c);
    },
    minRole: 'writer',
    scoped: 'none',
    ok: 200,
  },
  {
    name: 'HEAD /v1/uploads/{id}',
    method: 'HEAD',
    path: (c) => `/v1/uploads/${c.v.id}`,
    prepare: async (c) => {
      c.v.id = await openSession(c);
    },
    minRole: 'writer',
    scoped: 'none',
    ok: 200,
  },
  {
    name: 'PATCH /v1/uploads/{id}',
    method: 'PATCH',
    path: (c) => `/v1/uploads/${c.v.id}`,
    prepare: async (c) => {
      c.v.id = await openSession(c);
    },
    body: () => Buffer.from('a chunk'),
    minRole: 'writer',
    scoped: 'none',
    ok: 202,
    check: (r) => assert.equal(r.json.offset, 7),
  },
  {
    name: 'PUT /v1/uploads/{id}?digest=',
    method: 'PUT',
    path: (c) => `/v1/uploads/${c.v.id}?digest=${sha256(c.v.content)}`,
    prepare: async (c) => {
      c.v.id = await openSession(c);
      c.v.content = Buffer.from(`resumable ${uniq()}`);
    },
    body: (c) => c.v.content,
    minRole: 'writer',
    scoped: 'none',
    ok: 201,
  },
  {
    name: 'DELETE /v1/uploads/{id}',
    method: 'DELETE',
    path: (c) => `/v1/uploads/${c.v.id}`,
    prepare: async (c) => {
      c.v.id = await openSession(c);
    },
    minRole: 'writer',
    scoped: 'none',
    ok: 204,
  },

  // --- approver, one model ---
  {
    name: 'POST /v1/models/{name}/versions/{n}/approvals',
    method: 'POST',
    path: (c) => `${m(c)}/versions/${c.v.n}/approvals`,
    prepare: async (c) => {
      c.v.n = await freshVersion(c.model, false);
    },
    body: () => ({ decision: 'approve', comment: 'matrix' }),
    minRole: 'approver',
    scoped: 'model',
    ok: 201,
    check: (r) => assert.equal(r.json.status, 'approved'),
  },
  {
    name: 'PUT /v1/models/{name}/aliases/production (protected)',
    method: 'PUT',
    path: (c) => `${m(c)}/aliases/production`,
    prepare: async (c) => {
      c.v.n = await freshVersion(c.model, true);
    },
    body: (c) => ({ version: c.v.n }),
    minRole: 'approver',
    scoped: 'model',
    ok: 200,
    check: (r, c) => assert.equal(r.json.version, c.v.n),
  },
  {
    name: 'DELETE /v1/models/{name}/aliases/production (protected)',
    method: 'DELETE',
    path: (c) => `${m(c)}/aliases/production`,
    prepare: async (c) => {
      await adminSetAlias(c.model, 'production', await freshVersion(c.model, true));
    },
    minRole: 'approver',
    scoped: 'model',
    ok: 200,
    check: (r) => assert.equal(r.json.version, null),
  },
  {
    name: 'POST /v1/models/{name}/aliases/production/rollback (protected)',
    method: 'POST',
    path: (c) => `${m(c)}/aliases/production/rollback`,
    prepare: async (c) => {
      c.v.from = await freshVersion(c.model, true);
      const to = await freshVersion(c.model, true);
      await adminSetAlias(c.model, 'production', c.v.from);
      await adminSetAlias(c.model, 'production', to);
    },
    minRole: 'approver',
    scoped: 'model',
    ok: 200,
    check: (r, c) => assert.equal(r.json.version, c.v.from),
  },

  // --- admin, one model ---
  {
    name: 'DELETE /v1/models/{name}/versions/{n}',
    method: 'DELETE',
    path: (c) => `${m(c)}/versions/${c.v.n}`,
    prepare: async (c) => {
      c.v.n = await freshVersion(c.model, false);
    },
    body: () => ({ reason: 'authz matrix' }),
    minRole: 'admin',
    scoped: 'model',
    ok: 204,
  },

  // --- global: need a token scoped to "*" ---
  {
    name: 'GET /v1/blobs/{digest} (blob no version lists)',
    method: 'GET',
    path: () => `/v1/blobs/${orphanBlob}`,
    minRole: 'reader',
    scoped: 'global',
    outOfScope: { status: 404, code: 'BLOB_NOT_FOUND' },
    ok: 200,
    check: (r) => assert.equal(r.text, 'listed by no version'),
  },
  // The audit log's readers (auditor, approver, admin) of any scope: a scoped one sees its scope.
  {
    name: 'GET /v1/audit',
    method: 'GET',
    path: () => '/v1/audit?limit=1',
    minRole: 'reader',
    roles: AUDIT_READERS,
    scoped: 'none',
    ok: 200,
  },
  {
    name: 'GET /v1/audit/verify',
    method: 'GET',
    path: () => '/v1/audit/verify',
    minRole: 'reader',
    roles: AUDIT_READERS,
    scoped: 'none',
    ok: 200,
    check: (r) => assert.equal(r.json.ok, true),
  },
  {
    name: 'GET /v1/audit/checkpoints',
    method: 'GET',
    path: () => '/v1/audit/checkpoints',
    minRole: 'reader',
    roles: AUDIT_READERS,
    scoped: 'none',
    ok: 200,
  },
  {
    name: 'POST /v1/audit/checkpoints',
    method: 'POST',
    path: () => '/v1/audit/checkpoints',
    body: () => ({}),
    // A new entry first, so the head has moved since any earlier checkpoint and one is signed.
    prepare: async () => {
      await createToken(`moved-${uniq()}`, 'reader', '*');
    },
    minRole: 'approver',
    scoped: 'global',
    ok: 201,
  },
  {
    name: 'POST /v1/tokens',
    method: 'POST',
    path: () => '/v1/tokens',
    body: () => ({ name: `minted-${uniq()}`, role: 'admin', scope: '*' }),
    minRole: 'admin',
    scoped: 'global',
    ok: 201,
  },
  { name: 'GET /v1/tokens', method: 'GET', path: () => '/v1/tokens', minRole: 'admin', scoped: 'global', ok: 200 },
  {
    name: 'DELETE /v1/tokens/{id}',
    method: 'DELETE',
    path: (c) => `/v1/tokens/${c.v.id}`,
    prepare: async (c) => {
      c.v.id = (await createToken(`victim-${uniq()}`, 'reader', '*')).id;
    },
    minRole: 'admin',
    scoped: 'global',
    ok: 200,
    check: (r) => assert.ok(r.json.revokedAt),
  },
  {
    name: 'POST /v1/webhooks',
    method: 'POST',
    path: () => '/v1/webhooks',
    body: () => ({ url: HOOK_URL, events: ['webhook.ping'] }),
    minRole: 'admin',
    scoped: 'global',
    ok: 201,
    check: (r) => assert.match(r.json.secret, /^whsec_/),
  },
  { name: 'GET /v1/webhooks', method: 'GET', path: () => '/v1/webhooks', minRole: 'admin', scoped: 'global', ok: 200 },
  {
    name: 'GET /v1/webhooks/{id}',
    method: 'GET',
    path: (c) => `/v1/webhooks/${c.v.hook}`,
    prepare: async (c) => {
      c.v.hook = await createWebhook();
    },
    minRole: 'admin',
    scoped: 'global',
    ok: 200,
  },
  {
    name: 'GET /v1/webhooks/{id}/deliveries',
    method: 'GET',
    path: (c) => `/v1/webhooks/${c.v.hook}/deliveries`,
    prepare: async (c) => {
      c.v.hook = await createWebhook();
    },
    minRole: 'admin',
    scoped: 'global',
    ok: 200,
  },
  {
    name: 'POST /v1/webhooks/{id}/deliveries/{delivery}/redeliver',
    method: 'POST',
    path: (c) => `/v1/webhooks/${c.v.hook}/deliveries/${c.v.delivery}/redeliver`,
    prepare: async (c) => {
      c.v.hook = await createWebhook(['token.create']);
      await createToken(`hooked-${uniq()}`, 'reader', '*');
      await waitFor(async () => {
        const res = await call(ADMIN, 'GET', `/v1/webhooks/${c.v.hook}/deliveries`);
        c.v.delivery = res.json?.deliveries?.[0]?.id;
        return c.v.delivery !== undefined;
      }, 30_000);
    },
    minRole: 'admin',
    scoped: 'global',
    ok: 202,
  },
  {
    name: 'POST /v1/webhooks/{id}/test',
    method: 'POST',
    path: (c) => `/v1/webhooks/${c.v.hook}/test`,
    prepare: async (c) => {
      c.v.hook = await createWebhook();
    },
    minRole: 'admin',
    scoped: 'global',
    ok: 200,
  },
  {
    name: 'POST /v1/webhooks/{id}/rotate',
    method: 'POST',
    path: (c) => `/v1/webhooks/${c.v.hook}/rotate`,
    body: () => ({ graceSeconds: 60 }),
    prepare: async (c) => {
      c.v.hook = await createWebhook();
    },
    minRole: 'admin',
    scoped: 'global',
    ok: 200,
  },
  {
    name: 'DELETE /v1/webhooks/{id}',
    method: 'DELETE',
    path: (c) => `/v1/webhooks/${c.v.hook}`,
    prepare: async (c) => {
      c.v.hook = await createWebhook();
    },
    minRole: 'admin',
    scoped: 'global',
    ok: 200,
  },
  {
    name: 'POST /v1/gc {dryRun}',
    method: 'POST',
    path: () => '/v1/gc',
    body: () => ({ dryRun: true }),
    minRole: 'admin',
    scoped: 'global',
    ok: 200,
  },
];

interface Caller {
  label: string;
  scope: string;
  model: string;
  /** whether the scope covers what the call is about */
  covers: boolean;
}

const CALLERS: Record<Case['scoped'], Caller[]> = {
  model: [
    { label: `${SCOPED} token on ${IN_MODEL} (in scope)`, scope: SCOPED, model: IN_MODEL, covers: true },
    { label: `${SCOPED} token on ${OUT_MODEL} (out of scope)`, scope: SCOPED, model: OUT_MODEL, covers: false },
    { label: `* token on ${OUT_MODEL}`, scope: '*', model: OUT_MODEL, covers: true },
  ],
  none: [
    { label: `${SCOPED} token`, scope: SCOPED, model: IN_MODEL, covers: true },
    { label: '* token', scope: '*', model: OUT_MODEL, covers: true },
  ],
  global: [
    { label: `${SCOPED} token (not global)`, scope: SCOPED, model: IN_MODEL, covers: false },
    { label: '* token', scope: '*', model: OUT_MODEL, covers: true },
  ],
};

before(async () => {
  // Webhook pings and deliveries go to an address that never answers: give up on them quickly.
  keyDir = await mkdtemp(join(tmpdir(), 'modelgate-authz-key-'));
  await writeFile(join(keyDir, 'signer.pub.pem'), SIGNER.publicPem);
  server = await startServer({
    env: {
      MODELGATE_WEBHOOKS_TIMEOUT_SECONDS: '1',
      MODELGATE_WEBHOOKS_LEASE_SECONDS: '5',
      MODELGATE_SIGNING_TRUSTED_KEYS: join(keyDir, 'signer.pub.pem'),
    },
  });
  ADMIN = server.token;
  setupWriter = (await createToken('setup-writer', 'writer', '*')).token;
  for (const scope of [SCOPED, '*']) {
    const byRole = {} as Record<Role, { id: string; token: string }>;
    for (const role of ROLES) byRole[role] = await createToken(`matrix-${role}-${scope === '*' ? 'all' : 'risk'}`, role, scope);
    tokens[scope] = byRole;
  }
  // Each fixture model: v1 (@staging) and v2, both approved; v1's blob belongs to it alone.
  for (const model of [IN_MODEL, OUT_MODEL]) {
    expectStatus(await call(ADMIN, 'POST', '/v1/models', { name: model }), 201, `creating ${model}`);
    for (const n of [1, 2]) {
      const content = Buffer.from(`${model} v${n}`);
      const digest = await putBlob(content);
      if (n === 1) v1Blob[model] = digest;
      const reg = await call(setupWriter, 'POST', `/v1/models/${model}/versions`, { files: fileList(content, digest), card: CARD });
      expectStatus(reg, 201, `registering ${model} v${n}`);
      assert.equal(reg.json.version, n);
      expectStatus(await call(ADMIN, 'POST', `/v1/models/${model}/versions/${n}/approvals`, { decision: 'approve' }), 201, 'approval');
    }
    await adminSetAlias(model, 'staging', 1);
  }
  const shared = Buffer.from('shared by two models');
  sharedBlob = await putBlob(shared);
  for (const model of [OUT_MODEL, IN_MODEL]) {
    expectStatus(
      await call(setupWriter, 'POST', `/v1/models/${model}/versions`, { files: fileList(shared, sharedBlob) }),
      201,
      `${model} lists the shared blob`,
    );
  }
  orphanBlob = await putBlob(Buffer.from('listed by no version'));
});

after(async () => {
  await server?.dispose();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

describe('authorization matrix', () => {
  for (const c of CASES) {
    describe(`${c.name} (needs ${c.roles ? c.roles.join(' or ') : c.minRole}${c.scoped === 'global' ? ', scope *' : ''})`, () => {
      for (const role of ROLES) {
        for (const caller of CALLERS[c.scoped]) {
          const roleAllowed = c.roles ? c.roles.includes(role) : RANK[role] >= RANK[c.minRole];
          const allowed = roleAllowed && caller.covers;
          const hidden = roleAllowed && !caller.covers ? c.outOfScope : undefined;
          test(`${role}, ${caller.label} → ${allowed ? c.ok : (hidden?.status ?? '403')}`, async () => {
            const who = tokens[caller.scope]![role];
            const ctx: Ctx = { model: caller.model, token: who.token, allowed, v: {} };
            await c.prepare?.(ctx);
            const path = c.path(ctx);
            const seen = allowed ? 0 : (await deniedFor(who.id)).length;
            const res = c.websocket ? await callWs(who.token, path) : await call(who.token, c.method, path, c.body?.(ctx));
            if (allowed) {
              expectStatus(res, c.ok, `${role} ${caller.label}: ${c.method} ${path}`);
              c.check?.(res, ctx);
              return;
            }
            if (hidden) {
              expectStatus(res, hidden.status, `${role} ${caller.label}: ${c.method} ${path}`);
              if (c.method !== 'HEAD') assert.equal(res.json?.error?.code, hidden.code, res.text);
              return;
            }
            expectStatus(res, 403, `${role} ${caller.label}: ${c.method} ${path}`);
            if (c.method !== 'HEAD') assert.equal(res.json?.error?.code, 'FORBIDDEN', res.text);
            await expectOneDenial(who.id, seen, c.method, path, 403, ctx.model);
          });
        }
      }
    });
  }
});

const ANONYMOUS: { label: string; header?: string }[] = [
  { label: 'no Authorization header' },
  { label: 'an unknown token of the modelgate shape', header: `Bearer mgt_0123456789ab_${'A'.repeat(43)}` },
  { label: 'a token that is not of the modelgate shape', header: 'Bearer not-a-token' },
  { label: 'a Basic credential', header: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
];

describe('credentials that name no known caller → 401, never audited', () => {
  for (const who of ANONYMOUS) {
    test(`every route with ${who.label} → 401 with WWW-Authenticate, and no audit entry`, async (t) => {
      const high = (await denied()).at(-1)?.seq ?? 0;
      for (const c of CASES) {
        await t.test(`${c.method} ${c.name}`, async () => {
          const ctx: Ctx = { model: IN_MODEL, token: ADMIN, allowed: false, v: {} };
          await c.prepare?.(ctx);
          const headers: Record<string, string> = who.header ? { Authorization: who.header } : {};
          const res = c.websocket
            ? await callWs(null, c.path(ctx), headers)
            : await call(null, c.method, c.path(ctx), c.body?.(ctx), headers);
          expectStatus(res, 401, `${c.method} ${c.path(ctx)} with ${who.label}`);
          assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /, 'a 401 names the scheme');
          if (c.method !== 'HEAD') assert.equal(res.json?.error?.code, 'UNAUTHORIZED', res.text);
        });
      }
      // A known caller's refusal after them: once it is in the log, anything audited before it is too.
      const marker = tokens[SCOPED]!.reader;
      expectStatus(await call(marker.token, 'GET', '/v1/tokens'), 403, 'marker refusal');
      let fresh: AuditEntry[] = [];
      await waitFor(
        async () => {
          fresh = (await denied()).filter((e) => e.seq > high);
          return fresh.some((e) => e.actor.id === marker.id);
        },
        5000,
        'the marker refusal in the audit log',
      );
      assert.deepEqual(
        fresh.map((e) => `${e.actor.id} ${e.details.method} ${e.target}`),
        [`${marker.id} GET /v1/tokens`],
        'requests without a known token leave no audit entry',
      );
    });
  }

  test('a wrong secret with the id of a real token → 401, not attributed to that token, not audited', async () => {
    const real = await createToken(`wrong-secret-${uniq()}`, 'admin', '*');
    const secret = real.token.slice(-43);
    const forged = `mgt_${real.id}_${secret.startsWith('A') ? 'B' : 'A'}${secret.slice(1)}`;
    assert.notEqual(forged, real.token);
    const high = (await denied()).at(-1)?.seq ?? 0;
    for (const [method, path] of [
      ['GET', `/v1/resolve/${IN_MODEL}@staging`],
      ['GET', `/v1/models/${IN_MODEL}`],
      ['GET', '/v1/tokens'],
      ['POST', '/v1/gc'],
      ['GET', `/v1/watch?models=${IN_MODEL}`],
    ] as const) {
      const res = path.startsWith('/v1/watch') ? await callWs(forged, path) : await call(forged, method, path);
      expectStatus(res, 401, `${method} ${path} with a forged secret`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
    }
    expectStatus(await call(real.token, 'GET', '/v1/tokens'), 200, 'the real token still works');
    const marker = tokens[SCOPED]!.reader;
    expectStatus(await call(marker.token, 'GET', '/v1/audit'), 403, 'marker refusal');
    let fresh: AuditEntry[] = [];
    await waitFor(
      async () => {
        fresh = (await denied()).filter((e) => e.seq > high);
        return fresh.some((e) => e.actor.id === marker.id);
      },
      5000,
      'the marker refusal in the audit log',
    );
    assert.deepEqual(
      fresh.map((e) => `${e.actor.id} ${e.target}`),
      [`${marker.id} /v1/audit`],
      'a forged secret leaves no audit entry',
    );
    assert.equal((await deniedFor(real.id)).length, 0, 'nothing is attributed to the token whose id was borrowed');
  });
});

describe('expired and revoked tokens → 401, audited under their id', () => {
  /** What each dead token tries: the hot path, a model route, a mutation, a global route, the WebSocket. */
  const probes: { method: string; path: string; body?: unknown; websocket?: boolean; model?: string }[] = [
    { method: 'GET', path: `/v1/resolve/${IN_MODEL}@staging`, model: IN_MODEL },
    { method: 'GET', path: `/v1/models/${IN_MODEL}`, model: IN_MODEL },
    { method: 'PATCH', path: `/v1/models/${IN_MODEL}`, body: { description: 'dead token' }, model: IN_MODEL },
    { method: 'GET', path: '/v1/tokens' },
    { method: 'GET', path: `/v1/watch?models=${IN_MODEL}`, websocket: true, model: IN_MODEL },
  ];

  async function expectDead(
    t: { id: string; token: string },
    why: RegExp,
    ctx: { test: (name: string, fn: () => Promise<void>) => Promise<void> },
  ): Promise<void> {
    for (const p of probes) {
      await ctx.test(`${p.method} ${p.path}${p.websocket ? ' (WebSocket)' : ''} → 401, audited`, async () => {
        const seen = (await deniedFor(t.id)).length;
        const res = p.websocket ? await callWs(t.token, p.path) : await call(t.token, p.method, p.path, p.body);
        expectStatus(res, 401, `${p.method} ${p.path} with a dead token`);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
        assert.equal(res.json?.error?.code, 'UNAUTHORIZED');
        assert.match(res.json.error.message, why);
        await expectOneDenial(t.id, seen, p.method, p.path, 401, p.model);
      });
    }
  }

  test('a token created with ttlSeconds: 1 works, then is refused ~1.5 s later', async (t) => {
    const token = await createToken(`short-lived-${uniq()}`, 'admin', '*', { ttlSeconds: 1 });
    expectStatus(await call(token.token, 'GET', `/v1/models/${IN_MODEL}`), 200, 'the token works before it expires');
    await new Promise((r) => setTimeout(r, 1500));
    await expectDead(token, /expired/, t);
  });

  test('a revoked token is refused immediately after DELETE /v1/tokens/{id}', async (t) => {
    const token = await createToken(`revoked-${uniq()}`, 'admin', '*');
    for (const p of probes) {
      const res = p.websocket ? await callWs(token.token, p.path) : await call(token.token, p.method, p.path, p.body);
      expectStatus(res, p.websocket ? 101 : 200, `${p.method} ${p.path} before revocation`);
    }
    const revoke = await call(ADMIN, 'DELETE', `/v1/tokens/${token.id}`);
    expectStatus(revoke, 200, 'revocation');
    assert.ok(revoke.json.revokedAt);
    await expectDead(token, /revoked/, t);
    const listed = (await call(ADMIN, 'GET', '/v1/tokens')).json.tokens.find((x: { id: string }) => x.id === token.id);
    assert.ok(listed?.revokedAt, 'the list shows the revocation');
  });
});

describe('ops endpoints need no token', () => {
  for (const path of ['/healthz', '/readyz', '/metrics', '/.well-known/modelgate/checkpoint-keys']) {
    test(`GET ${path} → 200 without a token, and with a bad one`, async () => {
      expectStatus(await call(null, 'GET', path), 200, `${path} without a token`);
      expectStatus(await call('not-a-token', 'GET', path), 200, `${path} with a bad token`);
    });
  }
});
