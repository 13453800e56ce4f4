// /v1/audit: read and verify the hash-chained audit log. No route edits or deletes an entry.
import type { TemplatedApp } from 'uWebSockets.js';
import { badRequest } from '../../domain/errors.js';
import type { AppContext } from '../app-context.js';
import { route } from '../exchange.js';
import { guardGlobal } from '../guard.js';
import { parseLimit } from '../paths.js';

export function registerAuditRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.get(
    '/v1/audit',
    route(ctx, 'audit.list', (x) => {
      guardGlobal(ctx, x, 'approver', 'audit log');
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
    '/v1/audit/verify',
    route(ctx, 'audit.verify', (x) => {
      guardGlobal(ctx, x, 'approver', 'audit verification');
      const result = ctx.registry.audit.verify();
      x.json(result.ok ? 200 : 409, result);
    }),
  );
}
