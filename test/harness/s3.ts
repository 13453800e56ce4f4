// A real S3-compatible server for tests: s3rver in a child process on an ephemeral port with a
// temporary directory (or, with `{ server: 'moto' }`, moto's S3 server, which has what s3rver
// lacks: UploadPartCopy, and S3's 5 MiB part minimum), behind a small TCP proxy of our own. Clients talk to the proxy, which
// counts the bytes the server sends them (so a test can tell how often the bucket was read), can
// slow those bytes down, and can reset connections mid-stream: real network faults, not mocks.
// Stopping the server keeps the proxy listening, so clients see refused/reset connections, as
// they would when S3 goes away; restart() brings the server back with its data on a new port.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { START_LIMIT_MS } from './limits.js';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { S3BlobStoreOptions } from '../../src/blobs/s3-blob-store.js';

export interface TestS3 {
  /** The proxy's URL: what clients use. Stable across restart(). */
  endpoint: string;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Options for an S3BlobStore on this server (a fresh prefix each call unless given). */
  storeOptions(overrides?: Partial<S3BlobStoreOptions>): S3BlobStoreOptions;
  /** Environment for a modelgate service keeping its blobs here under `prefix`. */
  serviceEnv(prefix: string): Record<string, string>;
  /** A client of our own, through the proxy, for reaching into the bucket behind the store's back. */
  client: S3Client;
  /** Bytes the server has sent to clients through the proxy since the start (bodies and headers). */
  bytesSent(): number;
  /** Bytes clients have sent to the server through the proxy since the start. */
  bytesReceived(): number;
  /** Limits server-to-client bytes to this rate across all connections; null lifts the limit. */
  throttle(bytesPerSecond: number | null): void;
  /** Limits client-to-server bytes (uploads) the same way. */
  throttleUploads(bytesPerSecond: number | null): void;
  /** Resets (RST) every open connection once `bytes` more have gone from the server to clients. */
  cutAfter(bytes: number): void;
  /** Resets every open connection now. */
  cutAll(): void;
  /**
   * While set, resets any connection once it has carried `bytes` from the client to the server
   * (after forwarding exactly that many): every upload request with a larger body breaks off
   * mid-transfer, however often it is retried. null lifts it.
   */
  cutUploadsOver(bytes: number | null): void;
  /** Connections the proxy has reset on purpose so far. */
  cuts(): number;
  /** Kills the server process; the proxy keeps accepting and drops each connection at once. */
  stop(): Promise<void>;
  /** Starts the server again on the same directory (the bucket and its objects survive; on moto, which keeps them in memory, they do not). */
  restart(): Promise<void>;
  /** Stops everything and removes the directory. */
  dispose(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

// Runs in the child: s3rver on 127.0.0.1 with an ephemeral port, printing the port once listening.
//
// s3rver's deleteObject then removes the directories it left empty, which races a putObject into
// the same directory (its mkdirp done, its open not yet): the open fails with ENOENT on a write
// stream nothing listens on, and s3rver dies (seen when uploads cut mid-transfer are cleaned up
// while others start). Keys are files to s3rver and listings walk files only, so deleting a key
// without pruning its directories changes nothing an S3 client sees, and removes the race.
const SERVER_SCRIPT = `
const S3rver = require('s3rver');
const FilesystemStore = require('s3rver/lib/stores/filesystem');
FilesystemStore.prototype.deleteObject = async function (bucket, key) {
  const fs = require('node:fs/promises');
  await Promise.all(['object', 'object.md5', 'metadata.json'].map((kind) =>
    fs.unlink(this.getResourcePath(bucket, key, kind)).catch((err) => { if (err.code !== 'ENOENT') throw err; })));
};
const [directory, bucket] = process.argv.slice(1);
new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket, configs: [] }] })
  .run()
  .then((addr) => console.log(JSON.stringify({ port: addr.port })), (err) => { console.error(err); process.exit(1); });
`;

export interface StartS3Options {
  /** s3rver (the default) or moto's S3 server (`moto_server`, from Python's moto package). */
  server?: 's3rver' | 'moto';
}

export async function startS3(opts: StartS3Options = {}): Promise<TestS3> {
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-s3-'));
  const bucket = `test-${randomBytes(4).toString('hex')}`;
  const region = 'us-east-1';
  let child: ChildProcess | null = null;
  let upstreamPort = 0;

  const launch = async () => {
    const started = opts.server === 'moto' ? await spawnMoto(bucket, region) : await spawnS3rver(dir, bucket);
    child = started.child;
    upstreamPort = started.port;
  };
  await launch();
  const proxy = await startProxy(() => (child ? upstreamPort : null));
  const endpoint = `http://127.0.0.1:${proxy.port}`;
  const client = new S3Client({
    region,
    endpoint,
    forcePathStyle: true,
    credentials: CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  const stop = async () => {
    const c = child;
    child = null;
    if (c) await killChild(c);
  };
  return {
    endpoint,
    bucket,
    region,
    credentials: CREDENTIALS,
    storeOptions: (overrides = {}) => ({
      bucket,
      region,
      endpoint,
      forcePathStyle: true,
      prefix: `t${randomBytes(4).toString('hex')}/`,
      credentials: CREDENTIALS,
      partSizeBytes: 5 * 1024 * 1024,
      retry: { attempts: 4, baseDelayMs: 50 },
      ...overrides,
    }),
    serviceEnv: (prefix) => ({
      MODELGATE_BLOBS_BACKEND: 's3',
      MODELGATE_S3_BUCKET: bucket,
      MODELGATE_S3_ENDPOINT: endpoint,
      MODELGATE_S3_REGION: region,
      MODELGATE_S3_PREFIX: prefix,
      MODELGATE_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    }),
    client,
    bytesSent: () => proxy.bytesSent,
    bytesReceived: () => proxy.bytesReceived,
    throttle: (rate) => proxy.setRate('down', rate),
    throttleUploads: (rate) => proxy.setRate('up', rate),
    cutAfter: (bytes) => proxy.cutAfter(bytes),
    cutAll: () => proxy.cutAll(),
    cutUploadsOver: (bytes) => (proxy.uploadCutAt = bytes),
    cuts: () => proxy.cuts,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    dispose: async () => {
      client.destroy();
      await stop();
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function spawnS3rver(dir: string, bucket: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', SERVER_SCRIPT, dir, bucket], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`s3rver did not start within ${START_LIMIT_MS / 1000} s:\n${output.join('\n')}`));
    }, START_LIMIT_MS);
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (line.startsWith('{"port"')) {
        clearTimeout(timer);
        // A crash (or a stray kill) mid-test shows up as resets and 503s far from its cause: say it here.
        child.once('exit', (code, signal) => {
          if (!stopping.has(child)) {
            process.stderr.write(`s3rver exited unexpectedly (code ${code}, signal ${signal}):\n${output.slice(-20).join('\n')}\n`);
          }
        });
        resolve({ child, port: (JSON.parse(line) as { port: number }).port });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code} before listening (is the s3rver package installed?):\n${output.join('\n')}`));
    });
  });
}

/**
 * moto's S3 server on 127.0.0.1 with an ephemeral port (it prints "Running on http://…:PORT"), and
 * the bucket created on it. moto accepts any credentials.
 */
async function spawnMoto(bucket: string, region: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`moto_server did not start within ${START_LIMIT_MS / 1000} s:\n${output.join('\n')}`));
    }, START_LIMIT_MS);
    const onLine = (line: string) => {
      output.push(line);
      const m = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      child.once('exit', (code, signal) => {
        if (!stopping.has(child))
          process.stderr.write(`moto_server exited unexpectedly (code ${code}, signal ${signal}):\n${output.slice(-20).join('\n')}\n`);
      });
      resolve(Number(m[1]));
    };
    createInterface({ input: child.stderr! }).on('line', onLine);
    createInterface({ input: child.stdout! }).on('line', onLine);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`moto_server could not start (is Python's moto package installed, with its server extra?): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`moto_server exited with ${code} before listening:\n${output.join('\n')}`));
    });
  });
  const direct = new S3Client({ region, endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: CREDENTIALS });
  try {
    await direct.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    direct.destroy();
  }
  return { child, port };
}

/** s3rver processes the harness itself is stopping (their exit is expected). */
const stopping = new WeakSet<ChildProcess>();

function killChild(child: ChildProcess): Promise<void> {
  stopping.add(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

interface Proxy {
  port: number;
  /** Server-to-client bytes. */
  bytesSent: number;
  /** Client-to-server bytes. */
  bytesReceived: number;
  cuts: number;
  /** Per-connection client-to-server byte count at which a connection is reset (null: never). */
  uploadCutAt: number | null;
  setRate(direction: Direction, rate: number | null): void;
  cutAfter(bytes: number): void;
  cutAll(): void;
  close(): Promise<void>;
}

type Direction = 'down' | 'up';

/** One proxied connection and the bytes its client has sent so far. */
interface Pair {
  client: Socket;
  server: Socket;
  up: number;
}

/** A shared token bucket: all connections in one direction share the rate, as one slow link would. */
class Link {
  rate: number | null = null;
  private nextSendAt = 0;

  setRate(rate: number | null): void {
    this.rate = rate;
    this.nextSendAt = 0;
  }

  /** Milliseconds to wait before `bytes` may go. */
  reserve(bytes: number): number {
    if (this.rate === null) return 0;
    const now = Date.now();
    const start = Math.max(now, this.nextSendAt);
    this.nextSendAt = start + (bytes / this.rate) * 1000;
    return start - now;
  }
}

/** A TCP proxy that forwards to whatever port `upstream()` names (null: the server is down). */
function startProxy(upstream: () => number | null): Promise<Proxy> {
  const pairs = new Set<Pair>();
  const links: Record<Direction, Link> = { down: new Link(), up: new Link() };
  let cutAt: number | null = null;

  const resetAll = () => {
    for (const pair of pairs) {
      pair.client.resetAndDestroy();
      pair.server.destroy();
      proxy.cuts++;
    }
    pairs.clear();
  };

  /** Resets one connection: the client sees a reset, the server a connection that ended mid-body. */
  const resetPair = (pair: Pair) => {
    if (!pairs.delete(pair)) return;
    pair.client.resetAndDestroy();
    pair.server.resetAndDestroy();
    proxy.cuts++;
  };

  /** Copies one direction: counted, optionally delayed, and optionally cut. */
  const relay = (from: Socket, to: Socket, direction: Direction, pair: Pair) => {
    from.on('data', (chunk: Buffer) => {
      let forward = chunk;
      let cutNow = false;
      let cutPair = false;
      if (direction === 'up' && proxy.uploadCutAt !== null && pair.up + chunk.length > proxy.uploadCutAt) {
        forward = chunk.subarray(0, Math.max(0, proxy.uploadCutAt - pair.up));
        cutPair = true;
      }
      if (direction === 'down') {
        if (cutAt !== null && proxy.bytesSent + chunk.length >= cutAt) {
          forward = chunk.subarray(0, Math.max(0, cutAt - proxy.bytesSent));
          cutNow = true;
          cutAt = null;
        }
        proxy.bytesSent += forward.length;
      } else {
        proxy.bytesReceived += forward.length;
        pair.up += forward.length;
      }
      const send = () => {
        if (forward.length > 0 && !to.destroyed) to.write(forward);
        if (cutNow) resetAll();
        if (cutPair) resetPair(pair);
      };
      const delay = links[direction].reserve(forward.length);
      if (delay === 0) {
        send();
        if (to.writableNeedDrain) {
          from.pause();
          to.once('drain', () => from.resume());
        }
        return;
      }
      from.pause();
      setTimeout(() => {
        send();
        if (!from.destroyed) from.resume();
      }, delay);
    });
  };

  const server: Server = createServer((clientSocket) => {
    const port = upstream();
    if (port === null) {
      clientSocket.resetAndDestroy();
      return;
    }
    const serverSocket = connect(port, '127.0.0.1');
    const pair: Pair = { client: clientSocket, server: serverSocket, up: 0 };
    pairs.add(pair);
    const forget = () => {
      pairs.delete(pair);
      clientSocket.destroy();
      serverSocket.destroy();
    };
    clientSocket.on('error', forget).on('close', forget);
    serverSocket.on('error', () => {
      pairs.delete(pair);
      clientSocket.resetAndDestroy();
    });
    serverSocket.on('close', () => {
      pairs.delete(pair);
      clientSocket.end();
    });
    relay(clientSocket, serverSocket, 'up', pair);
    relay(serverSocket, clientSocket, 'down', pair);
  });

  const proxy: Proxy = {
    port: 0,
    bytesSent: 0,
    bytesReceived: 0,
    cuts: 0,
    uploadCutAt: null,
    setRate: (direction, rate) => links[direction].setRate(rate),
    cutAfter(bytes) {
      cutAt = proxy.bytesSent + bytes;
    },
    cutAll: resetAll,
    close: () =>
      new Promise<void>((resolve) => {
        resetAll();
        server.close(() => resolve());
      }),
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      proxy.port = (server.address() as { port: number }).port;
      resolve(proxy);
    });
  });
}
