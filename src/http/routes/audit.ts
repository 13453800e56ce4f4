// /v1/audit: read and verify the hash-chained audit log. No route edits or deletes an entry.
// Auditors, approvers and admins read it, each within its token's scope (domain/audit-scope.ts).
import type { TemplatedApp } from 'uWebSockets.js';
import { badRequest, conflict } from '../../domain/errors.js';
import type { AppContext } from '../app-context.js';
import { route } from '../exchange.js';
import { scopeMatches } from '../../auth/scope.js';
import type { Principal } from '../../domain/principal.js';
import { guardAudit, guardGlobal } from '../guard.js';
import { parseLimit } from '../paths.js';

export function registerAuditRoutes(app: TemplatedApp, ctx: AppContext): void {
  registerCheckpointKeyRoute(app, ctx);
  app.get(
    '/v1/audit',
    route(ctx, 'audit.list', (x) => {
      const principal = guardAudit(ctx, x, 'audit log');
      const seqParam = (key: string, fallback: number) => {
        const v = x.param(key);
        if (v === '') return fallback;
        if (!/^[0-9]{1,15}$/.test(v)) throw badRequest('SEQ_INVALID', `${key} must be a sequence number`);
        return Number(v);
      };
      const fromSeq = Math.max(1, seqParam('fromSeq', 1));
      const toSeq = seqParam('toSeq', Number.MAX_SAFE_INTEGER);
      const limit = parseLimit(x.param('limit'), 1000, 10_000);
      const { entries, nextSeq } = ctx.registry.audit.query({
        fromSeq,
        toSeq,
        limit,
        model: x.param('model'),
        actor: x.param('actor'),
        action: x.param('action'),
        ...scopeOf(principal),
      });
      const headers: Record<string, string> = nextSeq ? { 'X-Next-Seq': String(nextSeq) } : {};
      if (x.param('format') === 'jsonl') {
        const body = entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length ? '\n' : '');
        x.send(200, body, { 'Content-Type': 'application/x-ndjson', ...headers });
        return;
      }
      x.json(200, { entries, nextSeq }, headers);
    }),
  );
  app.get(
    '/v1/audit/checkpoints',
    route(ctx, 'audit.checkpoints.list', (x) => {
      guardAudit(ctx, x, 'audit checkpoints');
      const from = x.param('fromSeq');
      if (from !== '' && !/^[0-9]{1,15}$/.test(from)) throw badRequest('SEQ_INVALID', 'fromSeq must be a sequence number');
      const limit = parseLimit(x.param('limit'), 100, 10_000);
      const page = ctx.registry.checkpoints.list(Math.max(1, Number(from || 1)), limit);
      x.json(200, { ...page, latest: ctx.registry.checkpoints.latest(), keys: ctx.registry.checkpoints.keys() });
    }),
  );
  app.post(
    '/v1/audit/checkpoints',
    route(ctx, 'audit.checkpoints.take', async (x) => {
      const principal = guardGlobal(ctx, x, 'approver', 'audit checkpoints');
      const { checkpoint, created } = await ctx.registry.checkpoints.take(principal);
      if (!checkpoint) throw conflict('AUDIT_EMPTY', 'the audit log is empty: there is no head to sign');
      x.json(created ? 201 : 200, { ...checkpoint, created, head: checkpointHead(checkpoint) });
    }),
  );
  app.get(
    '/v1/audit/verify',
    route(ctx, 'audit.verify', (x) => {
      const principal = guardAudit(ctx, x, 'audit verification');
      const result = ctx.registry.audit.verify(scopeOf(principal).inScope);
      x.json(result.ok ? 200 : 409, result);
    }),
  );
}

/** Public keys that verify checkpoints, for anyone (no token): verifying must not depend on access. */
export function registerCheckpointKeyRoute(app: TemplatedApp, ctx: AppContext): void {
  app.get(
    CHECKPOINT_KEYS_PATH,
    route(ctx, 'audit.checkpoints.keys', (x) => x.json(200, { keys: ctx.registry.checkpoints.keys() })),
  );
}

export const CHECKPOINT_KEYS_PATH = '/.well-known/modelgate/checkpoint-keys';

/** A scoped reader's view of the log: models its scope admits (nothing for a `*` token: it sees all). */
function scopeOf(principal: Principal): { inScope?: (model: string) => boolean } {
  return principal.scope === '*' ? {} : { inScope: (model) => scopeMatches(principal.scope, model) };
}

/** `SEQ:HASH`, the form --expect-head takes. */
function checkpointHead(c: { seq: number; hash: string }): string {
  return `${c.seq}:${c.hash}`;
}
