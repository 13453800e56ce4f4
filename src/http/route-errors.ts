import { HttpError } from './errors/http-error.js';
import type { Exchange } from './exchange.js';

export function methodNotAllowed(x: Exchange, allowed: string[]): never {
  throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${x.method} is not allowed on ${x.path.slice(0, 200)}`, undefined, {
    Allow: allowed.join(', '),
  });
}

export function routeNotFound(x: Exchange): never {
  throw new HttpError(404, 'ROUTE_NOT_FOUND', `no route for ${x.method} ${x.path.slice(0, 200)}`);
}
