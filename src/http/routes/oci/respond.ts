// How OCI routes talk: Basic or Bearer credentials, the spec's error bodies (after the refusal is
// audited, like every other route), the API version header on every response.
import { ApiError } from '../../../domain/errors.js';
import { logger } from '../../../log.js';
import { errorBody, ociError, toOciError, type OciContext } from '../../../oci/errors.js';
import type { AppContext } from '../../app-context.js';
import type { Exchange, Headers } from '../../exchange.js';
import { refusalAuditor } from '../../refusal-audit.js';

export const API_VERSION = { 'Docker-Distribution-API-Version': 'registry/2.0' };
export const CHALLENGE = 'Basic realm="modelgate"';

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

/** Renders a failure in the spec's format; a refusal by a known caller is audited first. */
export async function failOci(ctx: AppContext, x: Exchange, err: unknown, context: OciContext): Promise<void> {
  if (x.aborted || x.finished) return;
  if (x.headersSent) {
    x.cut();
    return;
  }
  if (!(err instanceof ApiError)) logger.error({ err, route: x.route, method: x.method, path: x.path }, 'OCI request failed');
  const oci = toOciError(err, context);
  if (oci.status < 500) {
    const pending = auditor(ctx)(x, err instanceof ApiError ? err : oci);
    if (pending) await pending;
  }
  const headers: Headers = { 'Content-Type': 'application/json', ...API_VERSION, ...oci.headers };
  if (oci.status === 401) headers['WWW-Authenticate'] = CHALLENGE;
  const body = errorBody(oci);
  if (x.method === 'HEAD') x.send(oci.status, null, headers, body.length);
  else x.send(oci.status, body, headers);
}

const auditors = new WeakMap<AppContext, ReturnType<typeof refusalAuditor>>();
function auditor(ctx: AppContext): ReturnType<typeof refusalAuditor> {
  let a = auditors.get(ctx);
  if (!a) auditors.set(ctx, (a = refusalAuditor(ctx.registry.audit)));
  return a;
}

/** A response without a body (201/202/204 of the upload and push flows). */
export function sendEmpty(x: Exchange, status: number, headers: Headers): void {
  // uWS announces Content-Length: 0 for an empty body; a 204 carries none.
  x.send(status, status === 204 ? null : '', { ...API_VERSION, ...headers });
}
