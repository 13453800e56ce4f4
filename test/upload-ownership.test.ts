// Upload sessions belong to the token that opened them, on the v1 and the OCI routes alike: no
// other token reads, appends to or commits one, admins included (an admin scoped to other/* and
// the bootstrap admin); an admin may cancel one, another writer may not.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sha256 } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { createToken } from './harness/tokens.js';

let server: TestServer;
let opener: string;
let otherWriter: string;
let scopedAdmin: string;

before(async () => {
  server = await startServer();
  opener = (await createToken(server, 'up-opener', 'writer')).token;
  otherWriter = (await createToken(server, 'up-other', 'writer')).token;
  scopedAdmin = (await createToken(server, 'up-admin', 'admin', 'other/*')).token;
});
after(async () => {
  await server?.dispose();
});

async function call(token: string, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(server.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}` },
    ...(body !== undefined ? { body } : {}),
  });
  return { status: res.status, text: await res.text() };
}

/** Both dialects: how to open a session, and the URL of each operation on it. */
const dialects = [
  {
    label: 'v1',
    open: async () => {
      const res = await call(opener, 'POST', '/v1/uploads');
      assert.equal(res.status, 201, res.text);
      return `/v1/uploads/${JSON.parse(res.text).id as string}`;
    },
    notFound: 'UPLOAD_NOT_FOUND',
  },
  {
    label: 'OCI',
    open: async () => {
      const res = await fetch(`${server.url}/v2/team/owned/blobs/uploads/`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${opener}` },
      });
      assert.equal(res.status, 202);
      return res.headers.get('location')!;
    },
    notFound: 'BLOB_UPLOAD_UNKNOWN',
  },
];

for (const d of dialects) {
  test(`${d.label}: only the opener reads, appends and commits; an admin may cancel`, async () => {
    const location = await d.open();
    assert.equal((await call(opener, 'PATCH', location, 'first')).status, 202);
    const commit = `${location}${location.includes('?') ? '&' : '?'}digest=${sha256('firstmore')}`;

    for (const [who, token] of [
      ['an admin scoped to other/*', scopedAdmin],
      ['the bootstrap admin', server.token],
      ['another writer', otherWriter],
    ] as const) {
      for (const [method, path, body] of [
        ['GET', location, undefined],
        ['PATCH', location, 'more'],
        ['PUT', commit, 'more'],
      ] as const) {
        const res = await call(token, method, path, body);
        // On OCI a token scoped elsewhere is refused by the repository's scope before the session is looked at.
        const outOfScope = d.label === 'OCI' && token === scopedAdmin;
        assert.equal(res.status, outOfScope ? 403 : 404, `${who}: ${method} ${path} → ${res.status} ${res.text}`);
        if (!outOfScope) assert.ok(res.text.includes(d.notFound), res.text);
      }
    }
    // Another writer cannot cancel it either.
    assert.equal((await call(otherWriter, 'DELETE', location)).status, 404);

    // Nothing of the refused requests reached the session; the opener continues and commits.
    const status = await call(opener, 'GET', location);
    assert.equal(status.status, d.label === 'v1' ? 200 : 204);
    assert.equal((await call(opener, 'PATCH', location, 'more')).status, 202);
    assert.equal((await call(opener, 'PUT', commit)).status, 201);

    // An admin cancels another token's session (on v1 even one scoped elsewhere: sessions are
    // about no model; on OCI the repository's scope applies first).
    const second = await d.open();
    assert.equal((await call(d.label === 'v1' ? scopedAdmin : server.token, 'DELETE', second)).status, 204);
    const gone = await call(opener, 'GET', second);
    assert.equal(gone.status, 404);
  });
}
