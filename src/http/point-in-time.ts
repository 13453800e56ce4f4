// `?at=TIME`: the routes that answer from history (resolve, a version's show, an alias's history)
// take it; on every other route it is refused with 400, never silently ignored.
import { badRequest } from '../domain/errors.js';
import { parseAt } from '../domain/point-in-time.js';

const SUPPORTED = [/^\/v1\/models\/.+\/versions\/[0-9]+$/, /^\/v1\/models\/.+\/aliases\/[^/]+\/history$/];

/** True when the query names `at` (even empty). */
export function hasAt(query: string): boolean {
  return new URLSearchParams(query).has('at');
}

/** Refuses `?at=` on a route that does not answer from history. */
export function refuseUnsupportedAt(method: string, path: string, query: string): void {
  if (!hasAt(query)) return;
  if ((method === 'GET' || method === 'HEAD') && SUPPORTED.some((re) => re.test(path))) return;
  throw badRequest(
    'AT_UNSUPPORTED',
    `?at= is not supported on ${method} ${path.slice(0, 200)}: point-in-time answers come from GET /v1/resolve/{name}@{ref}?at=, GET /v1/models/{name}/versions/{n}?at= and GET …/aliases/{alias}/history?at=`,
  );
}

/** The `at` query value as a time, or a 400 naming the format. */
export function requireAt(text: string): Date {
  const when = parseAt(text);
  if (!when) throw badRequest('TIME_INVALID', `invalid time "${text.slice(0, 60)}": use ISO 8601, e.g. 2026-01-31T12:00:00Z`);
  return when;
}
