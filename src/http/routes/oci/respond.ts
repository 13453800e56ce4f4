// How OCI routes talk: Basic or Bearer credentials and the API version header on every response.
// Their errors go through the error pipeline in the OCI dialect (src/http/errors/oci-dialect.ts).
import { API_VERSION, ociError } from '../../errors/oci-dialect.js';
import type { Exchange, Headers } from '../../exchange.js';

export { API_VERSION };

/**
 * Rewrites `Authorization: Basic base64(user:token)` (what docker-style clients send after the
 * Basic challenge; the user name is ignored) as `Bearer token`, so that `guard` and the token
 * checks stay the only place credentials are judged. Bearer passes through unchanged.
 */
export function normaliseAuthorization(x: Exchange): void {
  const header = x.headers.authorization;
  if (!/^basic\s/i.test(header)) return;
  const encoded = header.slice(6).trim();
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon < 0) throw ociError(401, 'UNAUTHORIZED', 'malformed Basic credentials: expected base64 of "user:token"');
  const password = decoded.slice(colon + 1);
  const token = password !== '' ? password : decoded.slice(0, colon);
  x.headers.authorization = `Bearer ${token}`;
}

/** A response without a body (201/202/204 of the upload and push flows). */
export function sendEmpty(x: Exchange, status: number, headers: Headers): void {
  // uWS announces Content-Length: 0 for an empty body; a 204 carries none.
  x.send(status, status === 204 ? null : '', { ...API_VERSION, ...headers });
}
