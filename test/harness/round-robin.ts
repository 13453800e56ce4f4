// A load balancer without stickiness: each HTTP request (not connection) goes to the next node in
// turn, over a fresh upstream connection, with its body streamed through as it arrives.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobin {
  url: string;
  port: number;
  /** Requests sent to each upstream, by its index. */
  counts: number[];
  close(): Promise<void>;
}

export async function startRoundRobin(upstreams: () => string[]): Promise<RoundRobin> {
  let next = 0;
  const counts: number[] = [];
  const server = http.createServer((req, res) => {
    const targets = upstreams();
    const i = next++ % targets.length;
    counts[i] = (counts[i] ?? 0) + 1;
    const target = new URL(targets[i]!);
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`upstream failed: ${err.message}`);
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
