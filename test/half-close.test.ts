// Clients that send a complete request and then shut their write side (shutdown(SHUT_WR), as
// `nc -N`, some proxies and HTTP/1.0 clients do). This uWS build drops such a connection as soon
// as the request handler returns, so every answer that is local (a HEAD of a blob on this node's
// disk or in its edge cache, metadata from the index) must be given before it returns.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { rawRequest, registerFiles, sha256, uploadBlob } from './harness/http.js';
import { startS3, type TestS3 } from './harness/s3.js';
import { startServer, type TestServer } from './harness/server.js';

const MODEL = 'team/halfclose';
const MISSING = `sha256:${'0'.repeat(64)}`;

/** One request, then FIN; resolves with everything the server sent before it closed. */
function halfClosed(server: TestServer, method: string, path: string): Promise<string> {
  const head = `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n\r\n`;
  // The server answers and closes at once; the wait is only a cap for a server that never does.
  return rawRequest(server.port, head, { halfClose: true, waitMs: 20_000 });
}

function statusOf(reply: string): number {
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(reply);
  assert.ok(match, `no response at all, got ${JSON.stringify(reply.slice(0, 120))}`);
  return Number(match[1]);
}

function headerOf(reply: string, name: string): string | undefined {
  const head = reply.split('\r\n\r\n')[0]!;
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

describe('half-closed requests on a node with blobs on its disk', () => {
  let server: TestServer;
  const content = randomBytes(70_000);
  const digest = sha256(content);

  before(async () => {
    server = await startServer();
    await registerFiles(server, MODEL, { 'w.bin': content });
  });
  after(async () => {
    await server?.dispose();
  });

  test('HEAD of a stored blob on /v1, OCI and the files route: 200 with its length', async () => {
    for (const path of [
      `/v1/blobs/${digest}`,
      `/v2/${MODEL}/blobs/${digest}`,
      `/v1/models/${MODEL}@v1/files/w.bin`,
      `/${MODEL}/resolve/main/w.bin`,
    ]) {
      const reply = await halfClosed(server, 'HEAD', path);
      assert.equal(statusOf(reply), 200, `HEAD ${path}: ${reply.slice(0, 200)}`);
      assert.equal(headerOf(reply, 'content-length'), String(content.length), `HEAD ${path}`);
    }
  });

  test('HEAD of a missing blob: 404, on /v1 and OCI', async () => {
    assert.equal(statusOf(await halfClosed(server, 'HEAD', `/v1/blobs/${MISSING}`)), 404);
    assert.equal(statusOf(await halfClosed(server, 'HEAD', `/v2/${MODEL}/blobs/${MISSING}`)), 404);
  });

  test('metadata from the index: resolve, model, version, manifest, tags', async () => {
    for (const path of [
      `/v1/resolve/${MODEL}@v1`,
      `/v1/models/${MODEL}`,
      `/v1/models/${MODEL}/versions/1`,
      `/v2/${MODEL}/manifests/v1`,
      `/v2/${MODEL}/tags/list`,
      `/api/models/${MODEL}`,
    ]) {
      assert.equal(statusOf(await halfClosed(server, 'GET', path)), 200, `GET ${path}`);
    }
    assert.equal(statusOf(await halfClosed(server, 'HEAD', `/v2/${MODEL}/manifests/v1`)), 200);
  });

  test('the status of an upload session on /v1 and OCI: its offset', async () => {
    const opened = await fetch(`${server.url}/v1/uploads`, { method: 'POST', headers: { Authorization: `Bearer ${server.token}` } });
    assert.equal(opened.status, 201);
    const { id } = (await opened.json()) as { id: string };
    const chunk = await fetch(`${server.url}/v1/uploads/${id}`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${server.token}`, 'Content-Range': 'bytes 0-9/*' },
      body: Buffer.alloc(10, 1),
    });
    assert.equal(chunk.status, 202);
    const v1 = await halfClosed(server, 'HEAD', `/v1/uploads/${id}`);
    assert.equal(statusOf(v1), 200, v1.slice(0, 200));
    assert.equal(headerOf(v1, 'upload-offset'), '10');
    const oci = await halfClosed(server, 'GET', `/v2/${MODEL}/blobs/uploads/${id}`);
    assert.equal(statusOf(oci), 204, oci.slice(0, 200));
    assert.equal(headerOf(oci, 'range'), '0-9');
  });

  test('refusals are answered too: a bad digest, a missing token', async () => {
    assert.equal(statusOf(await halfClosed(server, 'HEAD', '/v1/blobs/sha256:00')), 400);
    const reply = await rawRequest(server.port, `HEAD /v1/blobs/${digest} HTTP/1.1\r\nHost: x\r\n\r\n`, {
      halfClose: true,
      waitMs: 20_000,
    });
    assert.equal(statusOf(reply), 401);
  });
});

describe('half-closed requests on an S3-backed node', () => {
  let s3: TestS3;
  let server: TestServer;

  before(async () => {
    s3 = await startS3();
    server = await startServer({ env: s3.serviceEnv(`half${randomBytes(3).toString('hex')}/`) });
  });
  after(async () => {
    await server?.dispose();
    await s3?.dispose();
  });

  test('HEAD of a blob in the edge cache: 200 with its length', async () => {
    const content = randomBytes(50_000);
    const digest = await uploadBlob(server, content);
    // A download puts the blob into this node's edge cache.
    const res = await fetch(`${server.url}/v1/blobs/${digest}`, { headers: { Authorization: `Bearer ${server.token}` } });
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(content));
    const reply = await halfClosed(server, 'HEAD', `/v1/blobs/${digest}`);
    assert.equal(statusOf(reply), 200, reply.slice(0, 200));
    assert.equal(headerOf(reply, 'content-length'), String(content.length));
  });

  test('the status of an upload session (a row of the shared table, on this node in LMDB): its offset, on /v1 and OCI', async () => {
    const opened = await fetch(`${server.url}/v1/uploads`, { method: 'POST', headers: { Authorization: `Bearer ${server.token}` } });
    assert.equal(opened.status, 201);
    const { id } = (await opened.json()) as { id: string };
    const chunk = await fetch(`${server.url}/v1/uploads/${id}`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${server.token}`, 'Content-Range': 'bytes 0-99/*' },
      body: Buffer.alloc(100, 3),
    });
    assert.equal(chunk.status, 202, await chunk.text());
    const head = await halfClosed(server, 'HEAD', `/v1/uploads/${id}`);
    assert.equal(statusOf(head), 200, head.slice(0, 200));
    assert.equal(headerOf(head, 'upload-offset'), '100');
    const get = await halfClosed(server, 'GET', `/v1/uploads/${id}`);
    assert.equal(statusOf(get), 200, get.slice(0, 200));
    assert.match(get, /"offset":100/);
    const oci = await halfClosed(server, 'GET', `/v2/team/halfclose/blobs/uploads/${id}`);
    assert.equal(statusOf(oci), 204, oci.slice(0, 200));
    assert.equal(headerOf(oci, 'range'), '0-99');
    assert.equal(statusOf(await halfClosed(server, 'HEAD', `/v1/uploads/${'f'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`)), 404);
  });
});
