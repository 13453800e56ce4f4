// Malformed request heads, sent over raw sockets. The HTTP parser is native (uWebSockets.js): a
// head it cannot parse never reaches the application, which cannot answer it; the parser closes
// the connection (at once, or at its idle timeout of about 10 s). What the application sees it
// bounds: a head over MAX_HEAD_BYTES gets 431. Every case stores nothing, never gets a success,
// and the server keeps serving others meanwhile. No timings are asserted: only that the server,
// not the test's generous cap, ended each connection.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { api, rawOutcome, sha256 } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';

/** Far past the parser's idle timeout: a connection still open then is held for good. */
const CAP_MS = 60_000;

describe('malformed request heads', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.dispose();
  });

  /** An upload of `body` whose head is `head` (with the request line) and the given extra header lines. */
  function upload(
    body: Buffer,
    opts: { method?: string; extra?: string[]; requestLine?: string } = {},
  ): { payload: string; digest: string } {
    const digest = sha256(body);
    const line = opts.requestLine ?? `${opts.method ?? 'POST'} /v1/blobs?digest=${digest} HTTP/1.1`;
    const lines = [line, 'Host: x', `Authorization: Bearer ${server.token}`, `Content-Length: ${body.length}`, ...(opts.extra ?? [])];
    return { payload: `${lines.join('\r\n')}\r\n\r\n${body.toString('latin1')}`, digest };
  }

  async function stored(digest: string): Promise<boolean> {
    return (await api(server, 'HEAD', `/v1/blobs/${digest}`)).status === 200;
  }

  /** The same request cut off inside its head, past the 4 KiB the parser keeps of an unfinished head. */
  function unfinished(c: { payload: string; digest: string }): { payload: string; digest: string } {
    return { payload: c.payload.slice(0, c.payload.indexOf('X-Pad') + 4500), digest: c.digest };
  }

  test('NUL in the method, a header line without a colon, a garbage request line, 200 headers, heads past the parser limit: closed by the server, never a success, nothing stored', async () => {
    const manyHeaders = Array.from({ length: 200 }, (_, i) => `X-Filler-${i}: ${i}`);
    const cases: [string, { payload: string; digest: string }][] = [
      ['NUL in the method', upload(randomBytes(64), { method: 'PO\u0000ST' })],
      ['header line without a colon', upload(randomBytes(64), { extra: ['ThisLineHasNoColon'] })],
      ['garbage request line', upload(randomBytes(64), { requestLine: '\u0001\u0002garbage garbage' })],
      ['200 headers', upload(randomBytes(64), { extra: manyHeaders })],
      ['a 100 KB header, past what the parser takes', upload(randomBytes(64), { extra: [`X-Pad: ${'a'.repeat(100_000)}`] })],
      ['an unfinished head past 4 KiB', unfinished(upload(randomBytes(64), { extra: [`X-Pad: ${'a'.repeat(5000)}`] }))],
    ];
    // All at once: each may be held until the parser's idle timeout, and the server must go on serving meanwhile.
    const outcomes = Promise.all(cases.map(([, c]) => rawOutcome(server.port, c.payload, { waitMs: CAP_MS })));
    assert.equal((await api(server, 'GET', '/healthz')).status, 200, 'the server serves others while malformed requests are open');
    const results = await outcomes;
    for (const [i, [name, c]] of cases.entries()) {
      const { reply, serverClosed } = results[i]!;
      assert.ok(serverClosed, `${name}: the server never closed the connection`);
      assert.ok(reply === '' || /^HTTP\/1\.1 4\d\d /.test(reply), `${name}: got ${JSON.stringify(reply.slice(0, 120))}`);
      assert.equal(await stored(c.digest), false, `${name}: nothing may be stored`);
    }
  });

  test('a head over 8 KiB that the parser takes whole: 431 HEADERS_TOO_LARGE, also half-closed, nothing stored', async () => {
    // 12 KiB goes out in one write and, on loopback, in one segment: the parser sees it whole.
    const pad = `X-Pad: ${'a'.repeat(12 * 1024)}`;
    for (const halfClose of [false, true]) {
      // Connection: close, so that the server ends the connection after its answer either way.
      const c = upload(randomBytes(64), { extra: [pad, 'Connection: close'] });
      const { reply } = await rawOutcome(server.port, c.payload, { waitMs: CAP_MS, halfClose });
      assert.match(reply, /^HTTP\/1\.1 431 /, `half-closed: ${halfClose}; got ${JSON.stringify(reply.slice(0, 120))}`);
      const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'HEADERS_TOO_LARGE');
      assert.match(body.error.message, /at most 8192/);
      assert.equal(await stored(c.digest), false);
    }
    const get = await rawOutcome(
      server.port,
      `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n${pad}\r\n\r\n`,
      {
        waitMs: CAP_MS,
        halfClose: true,
      },
    );
    assert.match(get.reply, /^HTTP\/1\.1 431 /);
  });

  test('a 64 KiB header: 431 when it arrives in one read, a closed connection when split; never a success, nothing stored', async () => {
    const pad = `X-Pad: ${'a'.repeat(64 * 1024)}`;
    for (const halfClose of [false, true]) {
      const c = upload(randomBytes(64), { extra: [pad, 'Connection: close'] });
      const { reply, serverClosed } = await rawOutcome(server.port, c.payload, { waitMs: CAP_MS, halfClose });
      assert.ok(serverClosed);
      assert.ok(reply === '' || /^HTTP\/1\.1 431 /.test(reply), `half-closed: ${halfClose}; got ${JSON.stringify(reply.slice(0, 120))}`);
      assert.equal(await stored(c.digest), false);
    }
  });

  test('control: a head just under the bound is served', async () => {
    const pad = 'a'.repeat(7 * 1024);
    const body = randomBytes(64);
    const res = await fetch(`${server.url}/v1/blobs?digest=${sha256(body)}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.token}`, 'X-Pad': pad },
      body,
    });
    assert.equal(res.status, 201, await res.text());
    assert.equal(await stored(sha256(body)), true);
    const get = await rawOutcome(
      server.port,
      `GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nX-Pad: ${pad}\r\n\r\n`,
      {
        waitMs: CAP_MS,
        halfClose: true,
      },
    );
    assert.match(get.reply, /^HTTP\/1\.1 200 /);
  });
});
