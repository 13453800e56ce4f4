// Small helpers over fetch and raw sockets for talking to a test server.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { TestServer } from './server.js';

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256(data: Buffer | string): string {
  return `sha256:${sha256Hex(data)}`;
}

export function auth(server: TestServer, extra: Record<string, string> = {}): Record<string, string> {
  return { Authorization: `Bearer ${server.token}`, ...extra };
}

export async function api(
  server: TestServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const init: RequestInit = { method, headers: auth(server, headers) };
  if (body !== undefined) {
    init.body = typeof body === 'string' || Buffer.isBuffer(body) ? (body as string) : JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(server.url + path, init);
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

export async function uploadBlob(server: TestServer, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const res = await fetch(`${server.url}/v1/blobs?digest=${digest}`, { method: 'POST', headers: auth(server), body: data });
  if (res.status !== 201 && res.status !== 200) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  return digest;
}

export interface RegisterOptions {
  /** The token that registers the version; the bootstrap admin's when left out. The blobs always go up as the admin. */
  token?: string;
  /** Fields of the request beside `files`: card, metadata, components… */
  extra?: Record<string, unknown>;
  /** Servers that get the blobs instead of `server` (every node of a cluster whose nodes keep blobs apart). */
  uploadTo?: TestServer[];
  /** The statuses that count as registered: 200 (the same files again) or 201 unless said. */
  accept?: number[];
}

/**
 * Uploads the files and registers them as a version of `name`; asserts the answer's status and
 * returns its JSON (the version: `.version` is its number).
 */
export async function registerFiles(
  server: TestServer,
  name: string,
  files: Record<string, Buffer | string>,
  opts: RegisterOptions = {},
): Promise<any> {
  const entries = [];
  for (const [path, content] of Object.entries(files)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    let digest = '';
    for (const node of opts.uploadTo ?? [server]) digest = await uploadBlob(node, data);
    entries.push({ path, size: data.length, digest });
  }
  const headers: Record<string, string> = opts.token === undefined ? {} : { Authorization: `Bearer ${opts.token}` };
  const res = await api(server, 'POST', `/v1/models/${name}/versions`, { files: entries, ...opts.extra }, headers);
  assert.ok((opts.accept ?? [200, 201]).includes(res.status), `register ${name}: ${res.status} ${res.text}`);
  return res.json;
}

export interface PathResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A request through node:http: the path goes out exactly as written (no URL normalisation), and a full view of status, headers and body. */
export function pathRequest(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<PathResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends raw bytes over a socket and returns what came back (until the server closes or `waitMs`
 * passes): for requests fetch refuses to make, for clients that vanish mid-request, and for
 * clients that half-close after the request.
 */
export function rawRequest(
  port: number,
  payload: string | Buffer,
  opts: { waitMs?: number; closeAfterWrite?: boolean; halfClose?: boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => resolve(Buffer.concat(chunks).toString('latin1'));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? finish() : reject(err)));
    socket.on('close', finish);
    socket.write(payload, () => {
      if (opts.closeAfterWrite) socket.destroy();
      // shutdown(SHUT_WR), as `nc -N`, some proxies and HTTP/1.0 clients do: the socket stays open to read.
      else if (opts.halfClose) socket.end();
    });
    setTimeout(() => socket.destroy(), opts.waitMs ?? 1000);
  });
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface RawOutcome {
  /** Everything the server sent, as latin1. */
  reply: string;
  /** The server ended the connection (FIN or reset) before `waitMs` passed. */
  serverClosed: boolean;
}

/** Like rawRequest, and tells whether the server closed the connection or the wait ran out. */
export function rawOutcome(
  port: number,
  payload: string | Buffer,
  opts: { waitMs?: number; halfClose?: boolean } = {},
): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let serverClosed = true;
    const timer = setTimeout(() => {
      serverClosed = false;
      socket.destroy();
    }, opts.waitMs ?? 30_000);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => undefined); // a reset or EPIPE is the server closing; 'close' follows
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), serverClosed });
    });
    socket.write(payload, () => {
      if (opts.halfClose) socket.end();
    });
  });
}
