// Worker thread of FileHasher: sha256 of whole files read by this thread, so a file's hash runs on
// a core of its own while the main thread sends the same file. Messages: see file-hasher.ts.
import { parentPort } from 'node:worker_threads';
import { sha256FileBlocking } from './sha256-file-blocking.js';
import type { FileHasherReply, FileHasherRequest } from './file-hasher.js';

const port = parentPort!;
const running = new Map<number, AbortController>();
/** Progress is posted in steps of at least this many bytes, not per read. */
const PROGRESS_STEP = 16 * 1024 * 1024;

port.on('message', (message: FileHasherRequest) => {
  if (message.op === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  const { id, path } = message;
  const stop = new AbortController();
  running.set(id, stop);
  let unreported = 0;
  const reply = (r: FileHasherReply) => port.postMessage(r);
  sha256FileBlocking(
    path,
    (n) => {
      unreported += n;
      if (unreported < PROGRESS_STEP) return;
      reply({ id, bytes: unreported });
      unreported = 0;
    },
    stop.signal,
  )
    .then(
      ({ hex, size }) => {
        if (unreported > 0) reply({ id, bytes: unreported });
        reply({ id, hex, size });
      },
      (err: unknown) => reply({ id, error: err instanceof Error ? err.message : String(err) }),
    )
    .finally(() => running.delete(id));
});
