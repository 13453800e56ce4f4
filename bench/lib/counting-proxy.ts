// A TCP proxy that counts the bytes crossing it, put between a client (a modelgate node, or the
// baseline's plain HTTP clients) and the bucket (s3rver): `down` is every byte the bucket sent
// (response headers and bodies), `up` every byte sent to it. Counting on the wire, outside both
// programs, is what makes "the bucket was read once" a measurement rather than a claim. It also
// notes when a client's first byte arrived (the pull scenario's start-up row, in front of a node).
import net from 'node:net';

export interface CountingProxy {
  port: number;
  /** Bytes from the upstream server to clients since the start. */
  readonly down: number;
  /** Bytes from clients to the upstream server since the start. */
  readonly up: number;
  /** Connections accepted since the start. */
  readonly connections: number;
  /** performance.now() when the first byte from a client arrived (a client's first request); null before. */
  readonly firstUpAt: number | null;
  close(): Promise<void>;
}

export function startCountingProxy(upstreamPort: number): Promise<CountingProxy> {
  const sockets = new Set<net.Socket>();
  const counts = { down: 0, up: 0, connections: 0, firstUpAt: null as number | null };
  const server = net.createServer((client) => {
    counts.connections++;
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    upstream.on('data', (chunk: Buffer) => (counts.down += chunk.length));
    client.on('data', (chunk: Buffer) => {
      counts.firstUpAt ??= performance.now();
      counts.up += chunk.length;
    });
    // pipe() keeps each direction's backpressure; the 'data' listeners above only count.
    upstream.pipe(client);
    client.pipe(upstream);
    // A closed client needs its upstream no more; a closed upstream still has bytes queued for
    // the client, so that side is ended (flushed), not destroyed.
    client.once('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.once('close', () => {
      sockets.delete(upstream);
      client.end();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        get down() {
          return counts.down;
        },
        get up() {
          return counts.up;
        },
        get connections() {
          return counts.connections;
        },
        get firstUpAt() {
          return counts.firstUpAt;
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
