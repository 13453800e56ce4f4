// A stand-in registry for client tests whose server must misbehave or pace itself: it answers the
// resolve of one model holding one file, and hands each Range GET of that file's blob to the test.
// It counts connections, so a test can check how many a pull opened.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sortFiles, versionDigest } from '../../src/domain/version-digest.js';

export interface FakeRegistry {
  url: string;
  /** Connections accepted so far, open now, and the most open at once; tests reset them. */
  stats: { connections: number; open: number; peakOpen: number };
  close(): Promise<void>;
}

/**
 * Serves `GET /v1/resolve/{model}` (model: `name@ref`, version 1, one file `path` of `content`)
 * and passes each `Range: bytes=start-end` request of the file's blob to `answerRange`; any other
 * request gets a 404 with a JSON error.
 */
export async function startFakeRegistry(options: {
  model: string;
  path: string;
  content: Buffer;
  digest: string;
  answerRange(req: IncomingMessage, res: ServerResponse, start: number, end: number): void;
}): Promise<FakeRegistry> {
  const { model, path, content, digest } = options;
  const [name, ref] = model.split('@') as [string, string];
  const files = [{ path, size: content.length, digest }];
  const resolution = {
    name,
    ref,
    version: 1,
    digest: versionDigest(sortFiles(files)),
    files,
    seq: 1,
    updatedAt: new Date(0).toISOString(),
  };
  const stats = { connections: 0, open: 0, peakOpen: 0 };
  const server: Server = createServer((req, res) => {
    if (req.url === `/v1/resolve/${model}`) {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(resolution));
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (req.url !== `/v1/blobs/${digest}` || !m) {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such thing' } }));
      return;
    }
    options.answerRange(req, res, Number(m[1]), Number(m[2]));
  });
  server.on('connection', (socket) => {
    stats.connections++;
    stats.peakOpen = Math.max(stats.peakOpen, ++stats.open);
    socket.on('close', () => stats.open--);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
