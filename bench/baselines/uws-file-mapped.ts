// The file-backed floor for a uWebSockets.js edge: a bare uWS app serving whole-file and ranged
// GETs of one file (env BENCH_UWS_FILE) from a mapping of it, with modelgate's own mapping addon
// (dist/native/mapped-range.node): each request maps its whole range at once (pages not in the
// page cache read in on a libuv thread) and hands all of it to tryEnd, continuing from onWritable,
// as the memory ceiling does.
// No auth, no index, no chunks, no slices: what serving the bytes from the file costs a uWS server
// here at least. Prints {"port":n} once listening.
import { openSync, fstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import uWS from 'uWebSockets.js';

interface MappedRangeAddon {
  createSlot(size: number): ArrayBuffer;
  fill(slot: ArrayBuffer, fd: number, offset: number, length: number): Promise<void>;
  empty(slot: ArrayBuffer): void;
}

if (!String(uWS.App).includes('[native code]')) {
  process.stderr.write('uws mapped baseline: uWebSockets.js loaded its JS fallback, not the native binary\n');
  process.exit(1);
}
const addon = createRequire(import.meta.url)('../../native/mapped-range.node') as MappedRangeAddon;
const fd = openSync(process.env.BENCH_UWS_FILE ?? '', 'r');
const size = fstatSync(fd).size;
const PAGE = 4096;
const slotSize = Math.ceil((size + PAGE) / PAGE) * PAGE;
const idle: ArrayBuffer[] = [];

function rangeOf(header: string): [number, number] | null {
  const m = /^bytes=(\d+)-(\d+)$/.exec(header);
  if (!m) return null;
  const start = Number(m[1]);
  const end = Math.min(Number(m[2]), size - 1);
  return start <= end ? [start, end] : null;
}

uWS
  .App()
  .get('/*', (res, req) => {
    const range = rangeOf(req.getHeader('range'));
    const [start, end] = range ?? [0, size - 1];
    const length = end - start + 1;
    const slot = idle.pop() ?? addon.createSlot(slotSize);
    let done = false;
    let base = 0;
    let body: Buffer | null = null;
    const finish = () => {
      if (done) return;
      done = true;
      addon.empty(slot);
      idle.push(slot);
    };
    res.onAborted(finish);
    res.onWritable((offset) => {
      const [ok, finished] = res.tryEnd(body!.subarray(offset - base), length);
      if (finished) finish();
      return ok;
    });
    const skip = start % PAGE;
    addon.fill(slot, fd, start - skip, skip + length).then(() => {
      if (done) return;
      body = Buffer.from(slot, skip, length);
      res.cork(() => {
        if (range) {
          res.writeStatus('206 Partial Content');
          res.writeHeader('Content-Range', `bytes ${start}-${end}/${size}`);
        }
        res.writeHeader('Accept-Ranges', 'bytes');
        base = res.getWriteOffset();
        const [, finished] = res.tryEnd(body!, length);
        if (finished) finish();
      });
    });
  })
  .listen('127.0.0.1', 0, (socket) => {
    if (!socket) {
      process.stderr.write('uws mapped baseline: cannot listen\n');
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket) })}\n`);
  });
