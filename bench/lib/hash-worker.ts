// Piscina worker for the `hash` scenario: the server's protocol (workers/hash.ts) reproduced here
// so the measurement does not move when the server's file does. One long-running task per stream
// reads transferred chunks from a MessagePort and acknowledges each with its byte length.
import { createHash } from 'node:crypto';
import type { MessagePort } from 'node:worker_threads';

export function hashStream({ port }: { port: MessagePort }): Promise<string> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    port.on('message', (msg: ArrayBuffer | 'end') => {
      if (msg === 'end') {
        port.close();
        resolve(hash.digest('hex'));
        return;
      }
      hash.update(new Uint8Array(msg));
      port.postMessage(msg.byteLength);
    });
  });
}
