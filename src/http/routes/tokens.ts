// /v1/tokens: admin-only token management. The secret is returned once, at creation.
import type { TemplatedApp } from 'uWebSockets.js';
import { assertScope } from '../../auth/scope.js';
import { generateToken, hashToken } from '../../auth/tokens.js';
import { badRequest } from '../../domain/errors.js';
import { createTokenBody, parseBody } from '../../domain/requests.js';
import type { TokenRecord } from '../../domain/types.js';
import type { AppContext } from '../app-context.js';
import { route } from '../exchange.js';
import { guardGlobal } from '../guard.js';
import { readJson } from '../json-body.js';
import { decode } from '../paths.js';

export function registerTokenRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.post(
    '/v1/tokens',
    route(ctx, 'tokens.create', async (x) => {
      const principal = guardGlobal(ctx, x, 'admin', 'token creation');
      const body = parseBody(createTokenBody, await readJson(x, ctx.config.server.maxJsonBytes));
      const scope = assertScope(body.scope);
      const expiresAt = body.ttlSeconds
        ? new Date(Date.now() + body.ttlSeconds * 1000).toISOString()
        : body.expiresAt
          ? new Date(body.expiresAt).toISOString()
          : null;
      if (expiresAt && Date.parse(expiresAt) <= Date.now()) throw badRequest('EXPIRY_INVALID', 'expiresAt is in the past');
      const { id, token } = generateToken();
      const record: TokenRecord = {
        id,
        name: body.name,
        role: body.role as TokenRecord['role'],
        scope,
        createdAt: new Date().toISOString(),
        createdBy: principal.name,
        expiresAt,
        revokedAt: null,
        hash: hashToken(token).toString('hex'),
      };
      await ctx.registry.tokens.create(record, principal);
      x.json(201, { ...publicView(record), token }, { Location: `/v1/tokens/${id}` });
    }),
  );
  app.get(
    '/v1/tokens',
    route(ctx, 'tokens.list', (x) => {
      guardGlobal(ctx, x, 'admin', 'token list');
      x.json(200, { tokens: ctx.registry.tokens.list().map(publicView) });
    }),
  );
  app.del(
    '/v1/tokens/*',
    route(ctx, 'tokens.revoke', async (x) => {
      const principal = guardGlobal(ctx, x, 'admin', 'token revocation');
      const id = decode(x.path.slice('/v1/tokens/'.length));
      x.json(200, publicView(await ctx.registry.tokens.revoke(id, principal)));
    }),
  );
}

function publicView(t: TokenRecord) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    scope: t.scope,
    createdAt: t.createdAt,
    createdBy: t.createdBy,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
  };
}
