// Talking to a test server's OCI distribution routes over fetch, as ORAS, skopeo and modctl do:
// one request with the body as bytes and as JSON, blob and manifest pushes, and the spec's error body.
import assert from 'node:assert/strict';
import { sha256 } from './http.js';
import { OCI_MANIFEST } from './oci-layout.js';
import type { TestServer } from './server.js';

/** The digest of the empty config blob (`{}`) that OCI artifacts name. */
export const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export interface OciResponse {
  status: number;
  headers: Headers;
  body: Buffer;
  /** The body parsed as JSON; null when it is empty or not JSON. */
  json: any;
}

export interface OciRequest {
  /** The Authorization header's whole value (Bearer or Basic); none when null. A header in `headers` wins. */
  authorization: string | null;
  headers?: Record<string, string> | undefined;
  body?: Buffer | string | undefined;
}

export async function ociRequest(server: TestServer, method: string, path: string, opts: OciRequest): Promise<OciResponse> {
  const headers: Record<string, string> = {
    ...(opts.authorization === null ? {} : { Authorization: opts.authorization }),
    ...opts.headers,
  };
  const res = await fetch(server.url + path, { method, headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  const body = Buffer.from(await res.arrayBuffer());
  let json: any = null;
  try {
    json = body.length ? JSON.parse(body.toString('utf8')) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, body, json };
}

/** Pushes a blob in one POST with ?digest= (as ORAS does) and asserts 201; returns its digest. */
export async function pushOciBlob(server: TestServer, repo: string, data: Buffer, authorization: string): Promise<string> {
  const digest = sha256(data);
  const res = await ociRequest(server, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    authorization,
    body: data,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  assert.equal(res.status, 201, res.body.toString());
  return digest;
}

export function putOciManifest(
  server: TestServer,
  repo: string,
  ref: string,
  bytes: Buffer,
  authorization: string,
  contentType = OCI_MANIFEST,
): Promise<OciResponse> {
  return ociRequest(server, 'PUT', `/v2/${repo}/manifests/${ref}`, {
    authorization,
    body: bytes,
    headers: { 'Content-Type': contentType },
  });
}

/** Asserts the spec's error body: `status`, JSON with an `errors` array whose first error has `code` and a message (matching `message` when given). */
export function assertOciError(res: OciResponse, status: number, code: string, message?: RegExp): void {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status} ${res.body.toString()}`);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.ok(Array.isArray(res.json?.errors), `errors array in ${res.body.toString()}`);
  assert.equal(res.json.errors[0].code, code, res.body.toString());
  assert.equal(typeof res.json.errors[0].message, 'string');
  if (message) assert.match(res.json.errors[0].message, message);
}
