// The upload floor: a bare uWebSockets.js app that receives each POST body, sha256-hashes it with
// node:crypto on its main thread AND stores it durably the plain way: every chunk written to a new
// file as it arrives, the dirty bytes written back every 64 MiB in the background (fdatasync on the
// threadpool, as modelgate's blob writer does, so the disk works while the body arrives), fsync at
// the end, rename into place, then the answer. No index, no verification, no worker, no limits:
// what this machine can do for "receive, hash and store durably" before any registry work.
// The stored file is removed after the answer (a bench writes many). Files go to env
// BENCH_SINK_DIR. Prints {"port":n} once listening.
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, fdatasync, fsync, mkdirSync, openSync, renameSync, rm, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import uWS from 'uWebSockets.js';

if (!String(uWS.App).includes('[native code]')) {
  process.stderr.write('uws store sink: uWebSockets.js loaded its JS fallback, not the native binary\n');
  process.exit(1);
}

const DIR = process.env.BENCH_SINK_DIR ?? '';
if (!DIR) {
  process.stderr.write('uws store sink: BENCH_SINK_DIR not set\n');
  process.exit(1);
}
mkdirSync(DIR, { recursive: true });
const WRITE_BACK_BYTES = 64 << 20;

uWS
  .App()
  .post('/*', (res) => {
    const hash = createHash('sha256');
    const tmp = join(DIR, `tmp-${randomUUID()}`);
    const fd = openSync(tmp, 'wx');
    let aborted = false;
    let dirty = 0;
    let writingBack = false;
    res.onAborted(() => {
      aborted = true;
      closeSync(fd);
      rmSync(tmp, { force: true });
    });
    res.onData((chunk, isLast) => {
      if (aborted) return;
      // The chunk is only valid inside this callback: hash and write it now.
      const bytes = new Uint8Array(chunk);
      hash.update(bytes);
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
      dirty += bytes.length;
      if (dirty >= WRITE_BACK_BYTES && !writingBack) {
        dirty = 0;
        writingBack = true;
        fdatasync(fd, () => (writingBack = false));
      }
      if (!isLast) return;
      const hex = hash.digest('hex');
      fsync(fd, (err) => {
        if (aborted) return;
        closeSync(fd);
        const target = join(DIR, hex);
        renameSync(tmp, target);
        // The directory entry is durable too, as a blob commit's is.
        const dir = openSync(DIR, 'r');
        fsync(dir, () => {
          closeSync(dir);
          if (aborted) return;
          res.cork(() => {
            if (err) res.writeStatus('500 Internal Server Error').end(String(err));
            else res.writeStatus('201 Created').end(JSON.stringify({ digest: `sha256:${hex}` }));
          });
          // On the threadpool: unlinking 1 GiB takes ext4 most of a second, which would hold this
          // loop and the other upload it receives.
          rm(target, { force: true }, () => undefined);
        });
      });
    });
  })
  .listen('127.0.0.1', 0, (socket) => {
    if (!socket) {
      process.stderr.write('uws store sink: cannot listen\n');
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket) })}\n`);
  });
