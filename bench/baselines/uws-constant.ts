// The resolve baseline: a bare uWebSockets.js app answering every GET with one constant response
// (the same body bytes and headers modelgate sent), in a process of its own like the service.
// Reads its response from env BENCH_UWS_RESPONSE and prints {"port":n} once listening. With
// BENCH_UWS_READ_PEER=1 it also reads each request's peer address as modelgate's fleet counting
// does for a caller without a deployment header (src/http/peer-address.ts, from what accept saw
// where the addon is built); BENCH_UWS_READ_PEER=uws reads it through uWS (getpeername(2) and a
// new ArrayBuffer per call), as modelgate did until 2026-12-07.
import uWS from 'uWebSockets.js';
import { PeerAddresses } from '../../src/http/peer-address.js';
import type { ConstantResponse } from '../lib/uws-baseline.js';

// The package silently swaps in a slow pure-JS server when its binary fails to load; a slow
// baseline would flatter every ratio, so refuse to run on it.
if (!String(uWS.App).includes('[native code]')) {
  process.stderr.write('uws baseline: uWebSockets.js loaded its JS fallback, not the native binary\n');
  process.exit(1);
}

const spec = JSON.parse(process.env.BENCH_UWS_RESPONSE ?? '{}') as ConstantResponse;
const status = spec.status ?? '200 OK';
const headers = spec.headers ?? [];
const body = Buffer.from(spec.bodyBase64 ?? '', 'base64');
const readPeer = process.env.BENCH_UWS_READ_PEER === '1' || process.env.BENCH_UWS_READ_PEER === 'uws';
const peers = !readPeer ? null : process.env.BENCH_UWS_READ_PEER === 'uws' ? PeerAddresses.throughUws() : PeerAddresses.load(false);

uWS
  .App()
  .get('/*', (res) => {
    // modelgate's own read (the address as text, IPv4 from a map of built strings); the answer
    // does not depend on it, but the read cannot be skipped.
    if (peers && peers.of(res) === '') throw new Error('no peer address');
    res.cork(() => {
      res.writeStatus(status);
      for (const [name, value] of headers) res.writeHeader(name, value);
      res.end(body);
    });
  })
  .listen('127.0.0.1', 0, (socket) => {
    if (!socket) {
      process.stderr.write('uws baseline: cannot listen\n');
      process.exit(1);
    }
    peers?.watch(socket);
    const port = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
    process.stdout.write(`${JSON.stringify(peers ? { port, peerReads: peers.describe() } : { port })}\n`);
  });
