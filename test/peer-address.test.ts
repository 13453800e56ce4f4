// The peer address read from what accept saw (native/peer-address.cc through src/http/peer-address.ts),
// on a real uWS app and real sockets: every read agrees with uWS's own getpeername read while
// connections from different source addresses open, close and reuse descriptors (and the memory of
// closed sockets), and what it does not remember (IPv6, TLS, a value that is no listen socket) is
// still read right, through uWS.
import assert from 'node:assert/strict';
import { request as httpRequest, Agent } from 'node:http';
import { after, before, describe, test } from 'node:test';
import uWS from 'uWebSockets.js';
import { PeerAddresses } from '../src/http/peer-address.js';

interface App {
  port: number;
  peers: PeerAddresses;
  /** Requests whose read disagreed with uWS's: `ours != uws`. */
  disagreements: string[];
  close(): void;
}

/** The uWS text form of a peer, as modelgate stored it before the addon (IPv4 dotted, IPv4-mapped too). */
function uwsText(res: uWS.HttpResponse): string {
  const b = new Uint8Array(res.getRemoteAddress());
  const v4 =
    b.length === 4 ? b : b.length === 16 && b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff ? b.slice(12) : null;
  if (v4) return Array.from(v4).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16).padStart(4, '0'));
  return groups.join(':');
}

function startApp(host: string, peers: PeerAddresses): Promise<App> {
  const disagreements: string[] = [];
  return new Promise((resolve, reject) => {
    uWS
      .App()
      .get('/*', (res) => {
        const ours = peers.of(res);
        const theirs = uwsText(res);
        if (ours !== theirs) disagreements.push(`${ours} != ${theirs}`);
        res.end(ours);
      })
      .listen(host, 0, (socket) => {
        if (!socket) return reject(new Error('cannot listen'));
        peers.watch(socket);
        resolve({
          port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket),
          peers,
          disagreements,
          close: () => uWS.us_listen_socket_close(socket),
        });
      });
  });
}

/** `count` GETs on one kept-alive connection from `localAddress`; the bodies (the server's reads). */
async function getFrom(port: number, host: string, localAddress: string, count: number): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const bodies: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      bodies.push(
        await new Promise<string>((resolve, reject) => {
          httpRequest({ host, port, path: '/r', agent, localAddress }, (res) => {
            let body = '';
            res.setEncoding('latin1');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve(body));
          })
            .on('error', reject)
            .end();
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  return bodies;
}

describe('peer addresses from accept', () => {
  let app: App;
  before(async () => {
    app = await startApp('0.0.0.0', PeerAddresses.load(false));
  });
  after(() => app.close());

  test('over plain TCP the listen socket is watched and reads come from the table', async () => {
    assert.deepEqual(app.peers.describe(), { fromAccept: true });
    assert.deepEqual(await getFrom(app.port, '127.0.0.1', '127.0.0.5', 3), ['127.0.0.5', '127.0.0.5', '127.0.0.5']);
    const stats = app.peers.stats()!;
    assert.equal(stats.remembering, true);
    assert.ok(stats.hits >= 3, JSON.stringify(stats));
    assert.equal(stats.misses, 0);
  });

  test('connections from many addresses, closed and reopened (descriptors and sockets reused), each read as its own', async () => {
    const hitsBefore = app.peers.stats()!.hits;
    // Waves of concurrent connections, each from its own address, each closed before the next wave
    // opens: the kernel hands the next wave the same descriptor numbers, malloc the same sockets.
    for (let wave = 0; wave < 40; wave++) {
      const sources = Array.from({ length: 6 }, (_, i) => `127.0.${wave % 5}.${10 + ((wave * 7 + i * 3) % 200)}`);
      const results = await Promise.all(sources.map((source) => getFrom(app.port, '127.0.0.1', source, 1 + (wave % 3))));
      for (const [i, bodies] of results.entries()) {
        assert.ok(
          bodies.every((b) => b === sources[i]),
          `wave ${wave}: ${sources[i]} read as ${bodies.join(',')}`,
        );
      }
    }
    assert.deepEqual(app.disagreements, []);
    const stats = app.peers.stats()!;
    assert.equal(stats.remembering, true, 'no check found a remembered address wrong');
    assert.ok(stats.hits - hitsBefore >= 40 * 6, JSON.stringify(stats));
    assert.equal(stats.misses, 0);
  });

  test('an IPv4-mapped peer on a dual-stack listener reads as dotted IPv4; an IPv6 peer as uWS gives it', async () => {
    const dual = await startApp('::', PeerAddresses.load(false));
    try {
      assert.deepEqual(await getFrom(dual.port, '127.0.0.1', '127.0.0.7', 2), ['127.0.0.7', '127.0.0.7']);
      assert.deepEqual(await getFrom(dual.port, '::1', '::1', 2), [
        '0000:0000:0000:0000:0000:0000:0000:0001',
        '0000:0000:0000:0000:0000:0000:0000:0001',
      ]);
      assert.deepEqual(dual.disagreements, []);
    } finally {
      dual.close();
    }
  });

  test('read through uWS where not watched: by choice, for TLS, or when handed no listen socket', async () => {
    assert.equal(PeerAddresses.throughUws().describe().fromAccept, false);
    assert.match(PeerAddresses.load(true).describe().reason!, /TLS/);
    const unwatched = PeerAddresses.load(false);
    unwatched.watch(false as unknown as uWS.us_listen_socket);
    assert.equal(unwatched.describe().fromAccept, false);
    const plain = await startApp('127.0.0.1', PeerAddresses.throughUws());
    try {
      assert.deepEqual(await getFrom(plain.port, '127.0.0.1', '127.0.0.9', 2), ['127.0.0.9', '127.0.0.9']);
      assert.deepEqual(plain.disagreements, []);
    } finally {
      plain.close();
    }
  });
});
