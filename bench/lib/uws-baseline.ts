// Starts the bare uWebSockets.js baselines (bench/baselines/) each in its own process, like the service.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.js';

const CONSTANT = fileURLToPath(new URL('../baselines/uws-constant.js', import.meta.url));
const HASH_SINK = fileURLToPath(new URL('../baselines/uws-hash-sink.js', import.meta.url));
const STORE_SINK = fileURLToPath(new URL('../baselines/uws-store-sink.js', import.meta.url));
const FILE_MEMORY = fileURLToPath(new URL('../baselines/uws-file-memory.js', import.meta.url));
const FILE_MAPPED = fileURLToPath(new URL('../baselines/uws-file-mapped.js', import.meta.url));

export interface ConstantResponse {
  status: string;
  /** Headers to write besides the ones uWS adds itself (Date, Content-Length, uWebSockets). */
  headers: [string, string][];
  bodyBase64: string;
}

/** Headers uWS writes on its own: the baseline gets them from uWS too, so they are not copied. */
const ADDED_BY_UWS = new Set(['date', 'content-length', 'uwebsockets', 'connection', 'transfer-encoding']);

/** The part of a modelgate response the baseline must repeat to send the same bytes. */
export function constantResponseFrom(status: number, rawHeaders: string[], body: Buffer): ConstantResponse {
  const headers: [string, string][] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (!ADDED_BY_UWS.has(name.toLowerCase())) headers.push([name, rawHeaders[i + 1]!]);
  }
  return { status: `${status} ${status === 200 ? 'OK' : ''}`.trim(), headers, bodyBase64: body.toString('base64') };
}

export interface UwsBaseline {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function start(script: string, env: Record<string, string>): Promise<UwsBaseline> {
  const child = track(spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] }));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before listening`)));
    createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  return { port, pid: child.pid!, stop: () => stopChild(child) };
}

/**
 * Answers every GET with `response`, copied from modelgate; with `readPeer`, reads each request's
 * peer address first, as modelgate counts a caller without a deployment header.
 */
export function startUwsBaseline(response: ConstantResponse, options: { readPeer?: boolean } = {}): Promise<UwsBaseline> {
  return start(CONSTANT, { BENCH_UWS_RESPONSE: JSON.stringify(response), ...(options.readPeer ? { BENCH_UWS_READ_PEER: '1' } : {}) });
}

/** Hashes every POST body on its main thread and stores nothing. */
export function startUwsHashSink(): Promise<UwsBaseline> {
  return start(HASH_SINK, {});
}

/** Hashes every POST body on its main thread and stores it durably in `dir` (write, fsync, rename; removed after the answer). */
export function startUwsStoreSink(dir: string): Promise<UwsBaseline> {
  return start(STORE_SINK, { BENCH_SINK_DIR: dir });
}

/**
 * Serves whole and ranged GETs of the file at `path`, read into memory once at start, and with
 * `resolve` answers GET /v1/resolve/* with it in the same loop.
 */
export function startUwsFileFromMemory(path: string, resolve?: ConstantResponse): Promise<UwsBaseline> {
  return start(FILE_MEMORY, { BENCH_UWS_FILE: path, ...(resolve ? { BENCH_UWS_RESPONSE: JSON.stringify(resolve) } : {}) });
}

/** Serves whole and ranged GETs of the file at `path` from a mapping of each request's range (modelgate's addon). */
export function startUwsFileMapped(path: string): Promise<UwsBaseline> {
  return start(FILE_MAPPED, { BENCH_UWS_FILE: path });
}
