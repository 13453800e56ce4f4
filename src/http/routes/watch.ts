// GET /v1/watch (WebSocket): a client names models (or none: every model its token may read),
// first receives their current aliases, then every change with its sequence number. Reconnecting
// with `since=<last seq>` replays what it missed from the audit log instead. Delivery uses uWS
// topics, one per model; a client too slow to keep up is dropped at the backpressure limit
// rather than allowed to grow the server's memory. A socket lives only as long as its token: a
// revocation or an expiry closes it with 4401, since no later request would re-check the token.
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import type { Principal } from '../../domain/principal.js';
import { scopeMatches } from '../../auth/scope.js';
import { badRequest } from '../../domain/errors.js';
import { mayReadUnregistered } from '../../domain/fleet.js';
import { logger } from '../../log.js';
import { trace } from '../../trace.js';
import type { AliasSnapshot } from '../../registry/watch-feed.js';
import { assertModelName } from '../../domain/names.js';
import type { AppContext } from '../app-context.js';
import { RawReply } from '../errors/raw-reply.js';

interface WatchState {
  principal: Principal;
  models: string[] | null;
  since: number | null;
  /** The expiry timer of a stored token's socket; cleared on close. */
  expiry?: NodeJS.Timeout;
}

const MAX_REPLAY = 10_000;
const topic = (model: string) => `model:${model}`;
/** Newly reported unregistered artifacts: for sockets that may read the unregistered list. */
const UNREGISTERED_TOPIC = 'fleet:unregistered';
/** setTimeout's longest delay; a later expiry is re-armed in steps of this. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const TOKEN_CLOSED = 4401;

export function registerWatchRoutes(app: TemplatedApp, ctx: AppContext): void {
  /** Sockets watching "everything in scope": new models get subscribed as they appear. */
  const watchAll = new Set<WebSocket<WatchState>>();
  /** Open sockets by stored token id, so a token change touches only that token's sockets. */
  const byToken = new Map<string, Set<WebSocket<WatchState>>>();

  /** Closes `ws` and returns true if its token is now revoked or expired; re-arms the expiry timer otherwise. */
  const enforceToken = (ws: WebSocket<WatchState>): boolean => {
    const state = ws.getUserData();
    const record = ctx.registry.tokens.get(state.principal.id);
    if (!record) return false;
    const left = record.expiresAt ? Date.parse(record.expiresAt) - Date.now() : Infinity;
    const reason = record.revokedAt ? 'token revoked' : left <= 0 ? 'token expired' : null;
    if (reason) {
      ws.end(TOKEN_CLOSED, reason);
      return true;
    }
    if (left !== Infinity && !state.expiry) {
      state.expiry = setTimeout(
        () => {
          state.expiry = undefined;
          enforceToken(ws);
        },
        Math.min(left, MAX_TIMER_MS),
      ).unref();
    }
    return false;
  };

  app.ws<WatchState>('/v1/watch', {
    maxPayloadLength: 16 * 1024,
    maxBackpressure: ctx.config.watch.maxBackpressureBytes,
    closeOnBackpressureLimit: 1,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      // Never the query: it may carry access_token.
      const url = '/v1/watch';
      let principal: Principal | null = null;
      let model: string | null = null;
      try {
        const query = new URLSearchParams(req.getQuery() ?? '');
        const offered = offeredProtocols(protocol);
        const header =
          req.getHeader('authorization') || offered.bearer || (query.get('access_token') ? `Bearer ${query.get('access_token')}` : '');
        principal = ctx.auth.authenticate(header);
        ctx.auth.authorize(principal, 'reader', null, 'watch');
        const named = query.get('models');
        const models = named
          ? [
              ...new Set(
                named
                  .split(',')
                  .filter(Boolean)
                  .map((m) => assertModelName(m)),
              ),
            ]
          : null;
        for (const m of models ?? []) {
          model = m;
          ctx.auth.authorize(principal, 'reader', m, 'watch');
        }
        const sinceText = query.get('since');
        if (sinceText !== null && !/^[0-9]{1,15}$/.test(sinceText)) throw badRequest('SEQ_INVALID', 'since must be a sequence number');
        // Answer with the one protocol that names the stream, never the client's whole list: it holds the token.
        res.upgrade<WatchState>(
          { principal, models, since: sinceText === null ? null : Number(sinceText) },
          key,
          offered.selected,
          extensions,
          context,
        );
      } catch (err) {
        const reply = new RawReply(res, 'GET', 'watch', url, req.getHeader('authorization'), principal, model, performance.now());
        void ctx.errors.fail(reply, err);
      }
    },
    open: (ws) => {
      const state = ws.getUserData();
      // The bootstrap admin token is configured, not stored: it is neither revoked nor expires.
      if (ctx.registry.tokens.get(state.principal.id)) {
        // Checked again here as well as at upgrade, for a revocation committed in between.
        if (enforceToken(ws)) return;
        const sockets = byToken.get(state.principal.id) ?? new Set();
        byToken.set(state.principal.id, sockets.add(ws));
      }
      const visible = (m: string) => scopeMatches(state.principal.scope, m);
      if (mayReadUnregistered(state.principal)) ws.subscribe(UNREGISTERED_TOPIC);
      if (state.models) for (const m of state.models) ws.subscribe(topic(m));
      else {
        watchAll.add(ws);
        for (const m of ctx.registry.feed.modelNames()) if (visible(m)) ws.subscribe(topic(m));
      }
      // Subscribed first, then the state: nothing committed in between can be missed.
      const wanted = (m: string) => (state.models ? state.models.includes(m) : visible(m));
      const head = ctx.registry.feed.head();
      if (state.since !== null && head - state.since <= MAX_REPLAY) {
        for (const msg of ctx.registry.feed.replay(state.since, head)) if (wanted(msg.model)) ws.send(JSON.stringify(msg));
        ws.send(JSON.stringify({ type: 'ready', seq: head, replayed: true }));
        return;
      }
      const models: Record<string, AliasSnapshot> = {};
      for (const m of state.models ?? ctx.registry.feed.modelNames().filter(visible)) models[m] = ctx.registry.feed.aliases(m);
      ws.send(JSON.stringify({ type: 'snapshot', seq: head, models, ...(state.since !== null ? { reset: true } : {}) }));
    },
    close: (ws) => {
      watchAll.delete(ws);
      const state = ws.getUserData();
      clearTimeout(state.expiry);
      const sockets = byToken.get(state.principal.id);
      if (sockets?.delete(ws) && sockets.size === 0) byToken.delete(state.principal.id);
    },
    message: (ws) => {
      // The stream is one-way; clients have nothing to say.
      ws.end(1003, 'this endpoint sends only');
    },
  });

  // Fleet summaries (rate-limited by the fleet): per model to its watchers, unregistered artifacts to admins.
  // A model without watchers on this node is not summarized (a summary reads the model's whole fleet).
  ctx.fleet?.onSummary({
    send: (summary) => {
      app.publish(summary.type === 'fleet' ? topic(summary.model) : UNREGISTERED_TOPIC, JSON.stringify(summary));
    },
    wantsModel: (model) => app.numSubscribers(topic(model)) > 0,
  });

  ctx.registry.onChange((change) => {
    if (change.kind === 'token') {
      const id = ctx.registry.feed.tokenChangedAt(change.seq);
      // Without a readable entry, check every watched token rather than miss a revocation.
      const ids = id === null ? [...byToken.keys()] : [id];
      // A copy: end() runs the close handler at once, which edits the set.
      for (const tokenId of ids) for (const ws of [...(byToken.get(tokenId) ?? [])]) enforceToken(ws);
      return;
    }
    if (!change.model) return;
    for (const msg of ctx.registry.feed.messagesAt(change.seq)) {
      const t = topic(msg.model);
      for (const ws of watchAll) {
        if (!ws.isSubscribed(t) && scopeMatches(ws.getUserData().principal.scope, msg.model)) ws.subscribe(t);
      }
      if (!app.publish(t, JSON.stringify(msg)) && app.numSubscribers(t) > 0) logger.debug({ topic: t }, 'publish reached no socket');
      trace('watch.sent', change.seq, msg.model);
    }
  });
}

/** The subprotocol a browser offers to name this stream; the server selects it in its answer. */
export const WATCH_PROTOCOL = 'modelgate.watch.v1';
/** Prefix of the subprotocol that carries the token, base64url-encoded (as Kubernetes does for browsers, which cannot set headers on a WebSocket). */
export const BEARER_PROTOCOL_PREFIX = 'base64url.bearer.modelgate.';

/**
 * Reads `Sec-WebSocket-Protocol`: the token from `base64url.bearer.modelgate.<token>` as an
 * Authorization header value ('' when absent), and the protocol to select in the answer.
 */
export function offeredProtocols(header: string): { bearer: string; selected: string } {
  let bearer = '';
  let selected = '';
  for (const item of header.split(',')) {
    const p = item.trim();
    if (p === WATCH_PROTOCOL) selected = p;
    else if (p.startsWith(BEARER_PROTOCOL_PREFIX)) {
      const encoded = p.slice(BEARER_PROTOCOL_PREFIX.length);
      if (!/^[A-Za-z0-9_-]+$/.test(encoded))
        throw badRequest('PROTOCOL_INVALID', 'the bearer subprotocol must carry a base64url-encoded token');
      bearer = `Bearer ${Buffer.from(encoded, 'base64url').toString('utf8')}`;
    }
  }
  if (bearer && !selected)
    throw badRequest('PROTOCOL_INVALID', `a token in Sec-WebSocket-Protocol needs the "${WATCH_PROTOCOL}" protocol offered with it`);
  return { bearer, selected };
}
