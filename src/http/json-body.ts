import { badRequest } from '../domain/errors.js';
import type { Exchange } from './exchange.js';
import { declaredLength, tooLarge } from './receive.js';

/**
 * Reads and parses a JSON request body of at most `limit` bytes. Must be called synchronously in
 * the route handler (uWS delivers body chunks only to a handler attached there).
 */
export function readJson(x: Exchange, limit: number): Promise<unknown> {
  return readBody(x, limit).then(parseJson);
}

/**
 * Reads a whole request body of at most `limit` bytes into memory. Must be called synchronously in
 * the route handler (uWS delivers body chunks only to a handler attached there).
 */
export function readBody(x: Exchange, limit: number): Promise<Buffer> {
  const declared = declaredLength(x);
  if (declared !== null && declared > limit) throw tooLarge(limit);
  if (!x.hasBody) return Promise.resolve(Buffer.alloc(0));
  x.bodyUnread = false;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    x.onAbort(() => {
      settled = true;
      reject(badRequest('CLIENT_ABORTED', 'the client closed the connection before the body was complete'));
    });
    x.onBody((chunk, isLast) => {
      if (settled) return;
      size += chunk.byteLength;
      if (size > limit) {
        settled = true;
        x.bodyUnread = true;
        x.dropBody();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        settled = true;
        resolve(Buffer.concat(chunks, size));
      }
    });
  });
}

function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) throw badRequest('JSON_INVALID', 'request body is empty; a JSON object is required');
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw badRequest('JSON_INVALID', `request body is not valid JSON: ${(err as Error).message}`);
  }
}
