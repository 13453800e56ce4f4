// The download limit: a bare uWebSockets.js app serving one file from memory (read whole at start)
// with Range support and backpressure, in a process of its own like the service. No file reads,
// no routing, no auth: the least CPU per byte any server on uWS spends without sendfile (one
// copy into the socket), so a ratio of it to nginx is a ceiling for modelgate's on this machine.
// Reads the file named by env BENCH_UWS_FILE and prints {"port":n} once listening.
import { readFileSync } from 'node:fs';
import uWS from 'uWebSockets.js';

if (!String(uWS.App).includes('[native code]')) {
  process.stderr.write('uws baseline: uWebSockets.js loaded its JS fallback, not the native binary\n');
  process.exit(1);
}

const data = readFileSync(process.env.BENCH_UWS_FILE ?? '');

uWS
  .App()
  .get('/*', (res, req) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.getHeader('range'));
    const start = range ? Number(range[1]) : 0;
    const end = range ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
    const body = data.subarray(start, end + 1);
    const from = res.getWriteOffset();
    let result: [boolean, boolean] = [false, false];
    res.onAborted(() => {});
    res.cork(() => {
      res.writeStatus(range ? '206 Partial Content' : '200 OK');
      if (range) res.writeHeader('Content-Range', `bytes ${start}-${end}/${data.length}`);
      result = res.tryEnd(body, body.length);
    });
    if (result[0] || result[1]) return;
    res.onWritable((offset) => res.tryEnd(body.subarray(offset - from), body.length)[0]);
  })
  .listen('127.0.0.1', 0, (socket) => {
    if (!socket) {
      process.stderr.write('uws baseline: cannot listen\n');
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket) })}\n`);
  });
