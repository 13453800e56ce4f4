// Uploads with curl (C, reads the file with little CPU of its own, as with downloads): one timed
// upload, or a loop of uploads that runs until stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { UWS_MAX_CONTENT_LENGTH } from './api.js';
import { track } from './children.js';

export interface UploadTarget {
  port: number;
  token: string;
  path: string;
  size: number;
  sha256: string;
}

export interface UploadResult {
  status: number;
  /** curl's time_total: request start to response end, without process start-up. */
  seconds: number;
  chunked: boolean;
  body: string;
}

export function findCurl(): string | null {
  return ['/usr/bin/curl', '/usr/local/bin/curl', '/bin/curl'].find((p) => existsSync(p)) ?? null;
}

/** The openssl command line tool (Debian's package openssl), whose `dgst -sha256` the push scenario runs beside curl -T. */
export function findOpenssl(): string | null {
  return ['/usr/bin/openssl', '/usr/local/bin/openssl', '/bin/openssl'].find((p) => existsSync(p)) ?? null;
}

/** Starts one curl upload; `done` settles when it exits. `chunked` drops Content-Length. */
export function startUpload(curl: string, target: UploadTarget, chunked: boolean): { child: ChildProcess; done: Promise<UploadResult> } {
  const args = [
    '--silent',
    '--show-error',
    '--request',
    'POST',
    '--upload-file',
    target.path,
    // curl would otherwise wait up to a second for a "100 Continue" before sending a large body.
    '--header',
    'Expect:',
    '--header',
    `Authorization: Bearer ${target.token}`,
    ...(chunked ? ['--header', 'Transfer-Encoding: chunked'] : []),
    '--write-out',
    '\n%{http_code} %{time_total}',
    `http://127.0.0.1:${target.port}/v1/blobs?digest=sha256:${target.sha256}`,
  ];
  const child = track(spawn(curl, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<UploadResult>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      const lines = out.trimEnd().split('\n');
      const [status, seconds] = (lines.pop() ?? '').split(' ').map(Number);
      if (code !== 0 || !status) reject(new Error(`curl upload ${signal ?? `exit ${code}`}: ${err.trim() || out.trim()}`));
      else resolve({ status, seconds: seconds ?? 0, chunked, body: lines.join('\n') });
    });
  });
  return { child, done };
}

/**
 * One upload as the contract asks (Content-Length); if the server resets a body of 1e9 bytes or
 * more (uWS parses at most 9 digits), it is retried chunked and the result says so.
 */
export async function uploadOnce(curl: string, target: UploadTarget): Promise<UploadResult & { contentLengthError?: string }> {
  try {
    return await startUpload(curl, target, false).done;
  } catch (err) {
    if (target.size < UWS_MAX_CONTENT_LENGTH) throw err;
    const result = await startUpload(curl, target, true).done;
    return { ...result, contentLengthError: (err as Error).message };
  }
}
