// POST /v1/blobs/verify {repair?}: re-hash every blob in the store (admin, scope *), report each
// whose bytes do not match its digest, and with `repair` move those aside (see blobs/verify.ts).
// One run at a time; the answer comes when the whole store has been read.
import type { TemplatedApp } from 'uWebSockets.js';
import { type MoveAside, verifyBlobs } from '../../blobs/verify.js';
import { conflict } from '../../domain/errors.js';
import { blobVerifyBody, parseBody } from '../../domain/requests.js';
import { logger } from '../../log.js';
import type { AppContext } from '../app-context.js';
import { route } from '../exchange.js';
import { guardGlobal } from '../guard.js';
import { readJson } from '../json-body.js';

export function registerBlobVerifyRoutes(app: TemplatedApp, ctx: AppContext): void {
  // One run at a time on this server (state of this app, not of the module).
  let running = false;
  app.post(
    '/v1/blobs/verify',
    route(ctx, 'blobs.verify', async (x) => {
      const principal = guardGlobal(ctx, x, 'admin', 'blob verification');
      const body = x.hasBody ? parseBody(blobVerifyBody, await readJson(x, ctx.config.server.maxJsonBytes)) : { repair: false };
      if (running) throw conflict('VERIFY_RUNNING', 'a blob verification is already running');
      running = true;
      try {
        const moveAside: MoveAside | null = body.repair
          ? (digest, since, found) => ctx.registry.quarantineBlob(digest, since, found, principal)
          : null;
        const report = await verifyBlobs(ctx.blobs, ctx.hashPool, moveAside);
        if (report.mismatched.length > 0) {
          logger.warn({ actor: principal.id, repair: body.repair, mismatched: report.mismatched }, 'blob verification found damaged blobs');
        }
        x.json(200, report);
      } finally {
        running = false;
      }
    }),
  );
}
