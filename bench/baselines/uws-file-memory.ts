// The download ceiling for a uWebSockets.js edge: a bare uWS app serving whole-file and ranged GETs
// of one file it read into memory once at start (env BENCH_UWS_FILE), with tryEnd + onWritable and
// no reads: each body byte is copied once, from this buffer into the socket (nginx's sendfile
// copies none into user space). Nothing modelgate does per download (auth, the index, file reads,
// buffers, slices) is here, so no uWS server on this machine serves the same bytes faster.
// With env BENCH_UWS_RESPONSE (uws-baseline.ts) it also answers GET /v1/resolve/* with that
// constant response in the loop that serves the downloads: the resolve latency a uWS app
// serving these downloads gives on this machine. Prints {"port":n} once listening.
import { readFileSync } from 'node:fs';
import uWS from 'uWebSockets.js';
import type { ConstantResponse } from '../lib/uws-baseline.js';

if (!String(uWS.App).includes('[native code]')) {
  process.stderr.write('uws file baseline: uWebSockets.js loaded its JS fallback, not the native binary\n');
  process.exit(1);
}

const file = readFileSync(process.env.BENCH_UWS_FILE ?? '');

/** `bytes=a-b` (the bench's only form) as [start, end], null for anything else. */
function rangeOf(header: string): [number, number] | null {
  const m = /^bytes=(\d+)-(\d+)$/.exec(header);
  if (!m) return null;
  const start = Number(m[1]);
  const end = Math.min(Number(m[2]), file.length - 1);
  return start <= end ? [start, end] : null;
}

const resolve = process.env.BENCH_UWS_RESPONSE ? (JSON.parse(process.env.BENCH_UWS_RESPONSE) as ConstantResponse) : null;
const resolveBody = Buffer.from(resolve?.bodyBase64 ?? '', 'base64');

const app = uWS.App();
if (resolve) {
  app.get('/v1/resolve/*', (res) => {
    res.cork(() => {
      res.writeStatus(resolve.status);
      for (const [name, value] of resolve.headers) res.writeHeader(name, value);
      res.end(resolveBody);
    });
  });
}
app
  .get('/*', (res, req) => {
    const range = rangeOf(req.getHeader('range'));
    const body = range ? file.subarray(range[0], range[1] + 1) : file;
    let aborted = false;
    let base = 0;
    res.onAborted(() => (aborted = true));
    // The socket took part of the body: the rest waits for onWritable, from the offset it reports.
    res.onWritable((offset) => {
      const [ok] = res.tryEnd(body.subarray(offset - base), body.length);
      return ok;
    });
    res.cork(() => {
      if (range) {
        res.writeStatus('206 Partial Content');
        res.writeHeader('Content-Range', `bytes ${range[0]}-${range[1]}/${file.length}`);
      }
      res.writeHeader('Accept-Ranges', 'bytes');
      base = res.getWriteOffset();
      if (!aborted) res.tryEnd(body, body.length);
    });
  })
  .listen('127.0.0.1', 0, (socket) => {
    if (!socket) {
      process.stderr.write('uws file baseline: cannot listen\n');
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket) })}\n`);
  });
