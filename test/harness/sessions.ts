// A chunked /v1/uploads session driven chunk by chunk, each request sent to the node `pick` names,
// the session-commit counters every node reports on /metrics, and what the bucket holds after.
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { sha256 } from './http.js';
import type { TestS3 } from './s3.js';
import type { TestServer } from './server.js';

export interface ChunkedUpload {
  digest: string;
  id: string;
  /** The committing response. */
  status: number;
  body: any;
}

/** Opens a session on `pick(0)`, sends `data` in `chunkSize` pieces (request i+1 to `pick(i + 1)`) and commits on the next. */
export async function chunkedUpload(
  data: Buffer,
  chunkSize: number,
  pick: (request: number) => TestServer,
  token: string,
  digest = sha256(data),
  /** Called after the last chunk, before the commit is sent. */
  beforeCommit: () => void = () => undefined,
): Promise<ChunkedUpload> {
  const headers = { Authorization: `Bearer ${token}` };
  const opened = await fetch(`${pick(0).url}/v1/uploads`, { method: 'POST', headers });
  assert.equal(opened.status, 201, await opened.clone().text());
  const { id } = (await opened.json()) as { id: string };
  let request = 1;
  for (let at = 0; at < data.length; at += chunkSize) {
    const chunk = data.subarray(at, Math.min(data.length, at + chunkSize));
    const res = await fetch(`${pick(request++).url}/v1/uploads/${id}`, {
      method: 'PATCH',
      headers: { ...headers, 'Content-Range': `bytes ${at}-${at + chunk.length - 1}/*` },
      body: chunk,
    });
    const text = await res.text();
    assert.equal(res.status, 202, `chunk at ${at}: ${text}`);
    assert.equal(JSON.parse(text).offset, at + chunk.length);
  }
  beforeCommit();
  const res = await fetch(`${pick(request).url}/v1/uploads/${id}?digest=${digest}`, { method: 'PUT', headers });
  const text = await res.text();
  return { digest, id, status: res.status, body: text ? JSON.parse(text) : null };
}

/** `modelgate_upload_session_commits_total` on one node, by how the digest was taken. */
export async function sessionCommits(node: TestServer): Promise<{ onArrival: number; readBack: number }> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const read = (label: string) => {
    const m = new RegExp(`^modelgate_upload_session_commits_total\\{hashed="${label}"\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { onArrival: read('on_arrival'), readBack: read('read_back') };
}

/** The size of the object under a blob's final key in the bucket (store prefix `prefix`), or null if there is none. */
export async function blobObjectSize(s3: TestS3, prefix: string, digest: string): Promise<number | null> {
  const hex = digest.slice(7);
  try {
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}blobs/sha256/${hex.slice(0, 2)}/${hex}` }));
    return head.ContentLength ?? 0;
  } catch {
    return null;
  }
}

/** How many objects a session's parts still occupy in the bucket. */
export async function sessionObjectCount(s3: TestS3, prefix: string, id: string): Promise<number> {
  const list = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}uploads/${id}/` }));
  return list.KeyCount ?? 0;
}

/** The blob's bytes as one node serves them, or null when it answers anything but 200. */
export async function fetchBlob(node: TestServer, token: string, digest: string): Promise<Buffer | null> {
  const res = await fetch(`${node.url}/v1/blobs/${digest}`, { headers: { Authorization: `Bearer ${token}` } });
  return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : null;
}
