// node:http with a keep-alive agent, bodies discarded: the fallback when curl is missing. It costs
// the client roughly twice curl's CPU per byte, which on 2 shared cores lowers every figure.
import http from 'node:http';
import { expectedLength, type Fetched, type Fetcher, type FetchTarget } from './fetcher.js';

export function nodeHttpFetcher(maxSockets: number): Fetcher {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  return {
    description: 'node:http, keep-alive agent, bodies discarded',
    fetch(target: FetchTarget, range: [number, number] | null): Promise<Fetched> {
      const headers = range ? { ...target.headers, range: `bytes=${range[0]}-${range[1]}` } : target.headers;
      const expected = expectedLength(target, range);
      const wanted = range ? 206 : 200;
      const start = process.hrtime.bigint();
      return new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: target.port, path: target.path, headers, agent }, (res) => {
          if (res.statusCode !== wanted) {
            res.resume();
            reject(new Error(`GET ${target.path}: status ${res.statusCode}, expected ${wanted}`));
            return;
          }
          let bytes = 0;
          res.on('data', (chunk: Buffer) => (bytes += chunk.length));
          res.once('end', () =>
            bytes === expected
              ? resolve({ bytes, seconds: Number(process.hrtime.bigint() - start) / 1e9 })
              : reject(new Error(`GET ${target.path}: ${bytes} bytes, expected ${expected}`)),
          );
          res.once('error', reject);
        });
        req.once('error', reject);
      });
    },
    close: () => agent.destroy(),
  };
}
