// Who a request comes from, for fleet telemetry: read while uWS still lends the request (the
// deployment header, X-Forwarded-For, the peer address), then counted once the bytes are out.
import type { FleetIdentity, FleetVia } from '../domain/fleet.js';
import type { Principal } from '../domain/principal.js';
import { logger } from '../log.js';
import type { AppContext } from './app-context.js';
import type { Exchange } from './exchange.js';

export interface FleetCaller {
  identity: FleetIdentity;
  via: FleetVia;
}

/** The caller of an authenticated request, or null when fleet telemetry is off (or cannot tell). */
export function fleetCaller(ctx: AppContext, x: Exchange, principal: Principal): FleetCaller | null {
  if (!ctx.fleet) return null;
  try {
    // The address only when there is no usable header (peer-address.ts: a lookup over plain http,
    // a system call over TLS, for IPv6 callers or without the addon).
    const { identity, via } = ctx.fleet.identify(x.headers.deployment, principal.name, () => ctx.peers.of(x.res), x.headers.forwardedFor);
    return { identity, via };
  } catch (err) {
    // Telemetry never fails a request.
    logger.warn({ err }, 'fleet: caller not identified');
    return null;
  }
}

/** Counts a GET's bytes for the caller (HEAD is not a download). */
export function countDownload(
  ctx: AppContext,
  x: Exchange,
  caller: FleetCaller | null,
  where: Parameters<NonNullable<AppContext['fleet']>['downloaded']>[0],
  bytes: number,
): void {
  if (!caller || !ctx.fleet || x.method !== 'GET') return;
  ctx.fleet.downloaded(where, caller.identity, caller.via, bytes);
}
