// The upload baseline over HTTP: a bare uWebSockets.js app that sha256-hashes each POST body with
// node:crypto on its main thread and answers with the digest, storing nothing. What one event loop
// can take in and hash from the same client, before any disk, worker or verification work.
// Prints {"port":n} once listening.
import { createHash } from 'node:crypto';
import uWS from 'uWebSockets.js';

if (!String(uWS.App).includes('[native code]')) {
  process.stderr.write('uws hash sink: uWebSockets.js loaded its JS fallback, not the native binary\n');
  process.exit(1);
}

uWS
  .App()
  .post('/*', (res) => {
    const hash = createHash('sha256');
    let aborted = false;
    res.onAborted(() => (aborted = true));
    res.onData((chunk, isLast) => {
      // The chunk is only valid inside this callback: hash it now.
      hash.update(new Uint8Array(chunk));
      if (isLast && !aborted) {
        const hex = hash.digest('hex');
        res.cork(() => res.writeStatus('201 Created').end(JSON.stringify({ digest: `sha256:${hex}` })));
      }
    });
  })
  .listen('127.0.0.1', 0, (socket) => {
    if (!socket) {
      process.stderr.write('uws hash sink: cannot listen\n');
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ port: uWS.us_socket_local_port(socket as unknown as uWS.us_socket) })}\n`);
  });
