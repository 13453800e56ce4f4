// Receiving a request body into a sink. uWS hands body chunks only to an onData handler attached
// synchronously inside the route handler (Exchange attaches one and passes them on to onBody), so
// reception starts at once and the (asynchronously
// opened) sink is awaited by the ingest pipeline; upload backpressure is uWS pause()/resume().
import { badRequest, type DomainError, tooLarge as bodyTooLarge } from '../domain/errors.js';
import { Ingest, type ChunkSink } from '../blobs/ingest.js';
import type { ChunkHash, HashResult } from '../blobs/hash-pool.js';
import { httpMetrics } from '../metrics/metrics.js';
import type { Exchange } from './exchange.js';

export interface Received {
  size: number;
  hash: HashResult | null;
}

export function tooLarge(limit: number): DomainError {
  return bodyTooLarge('BODY_TOO_LARGE', `request body is larger than the limit of ${limit} bytes`);
}

/** Declared Content-Length, or null for a chunked body; a malformed value is a 400. */
export function declaredLength(x: Exchange): number | null {
  const text = x.headers.contentLength;
  if (text === '') return null;
  if (!/^[0-9]{1,16}$/.test(text)) throw badRequest('CONTENT_LENGTH_INVALID', `invalid Content-Length "${text.slice(0, 40)}"`);
  return Number(text);
}

/**
 * Streams the body into `sink` (optionally hashing it on a worker). Resolves when every byte is
 * written; rejects if the client aborts, the body exceeds `limit`, or the sink fails. On
 * rejection the caller decides what to do with bytes already written.
 */
export function receiveBody(
  x: Exchange,
  sink: Promise<ChunkSink>,
  hash: ChunkHash | null,
  limit: number,
  /** The hash continues past this body (a session's running hash): its digest is not taken. */
  keepHashOpen = false,
): Promise<Received> {
  const declared = declaredLength(x);
  if (declared !== null && declared > limit) throw tooLarge(limit);
  x.bodyUnread = false;
  httpMetrics.transferStarted('upload');

  return new Promise<Received>((resolve, reject) => {
    let settled = false;
    let paused = false;
    let complete = false;
    // Paused while the pipeline holds too many bytes, or while bodies had their share of the loop.
    let pressure = false;
    let shareUsed = false;
    const applyPause = () => {
      const pause = pressure || shareUsed;
      if (x.aborted || x.finished || pause === paused) return;
      paused = pause;
      if (pause) x.res.pause();
      else x.res.resume();
    };
    const setPaused = (pause: boolean) => {
      pressure = pause;
      applyPause();
    };
    const leaveShare = x.loopShare.join((pause) => {
      shareUsed = pause;
      applyPause();
    });
    // The sink failing (to open, or to write: a failed S3 part, a full disk) is reported at once,
    // not only with the next chunk: the request is most likely paused then, and no chunk would come.
    const sinkFailed = (err: Error) => {
      if (settled) return;
      // The body can no longer be used: stop keeping it, say why, and close the connection after the answer.
      if (!complete) x.bodyUnread = true;
      settle(err);
    };
    const ingest = new Ingest(sink, hash, setPaused, sinkFailed, keepHashOpen);
    const settle = (err: unknown, value?: Received) => {
      if (settled) return;
      settled = true;
      // The answer goes out on this socket: a pause by the share (even one the last chunk brought) ends here.
      leaveShare();
      shareUsed = false;
      applyPause();
      httpMetrics.transferEnded('upload');
      httpMetrics.received(ingest.received);
      if (err) {
        // The rest of the body is dropped; a paused socket is resumed so that it arrives, and the
        // answer waits for it within bounds (lingering close, see Exchange.send).
        x.dropBody();
        setPaused(false);
        ingest.stop().then(
          () => reject(err),
          () => reject(err),
        );
      } else resolve(value!);
    };
    x.onAbort(() => settle(badRequest('CLIENT_ABORTED', 'the client closed the connection before the body was complete')));
    x.onBody((chunk, isLast) => {
      if (settled) return;
      const started = performance.now();
      ingest.push(chunk);
      const now = performance.now();
      x.loopShare.charge(now - started, now);
      if (ingest.received > limit) {
        x.bodyUnread = true;
        settle(tooLarge(limit));
        return;
      }
      if (ingest.error) {
        sinkFailed(ingest.error);
        return;
      }
      if (isLast) {
        complete = true;
        ingest.finish().then(
          (done) => settle(null, done),
          (err: unknown) => settle(err),
        );
      }
    });
  });
}
