// /v1/models/{name}/aliases[/{alias}[/history|/rollback]]. Protected aliases (those with a policy)
// are moved by approvers; unprotected ones by writers.
import type { Role } from '../../domain/principal.js';
import { badRequest } from '../../domain/errors.js';
import { assertAlias } from '../../domain/names.js';
import { parseBody, rollbackBody, setAliasBody } from '../../domain/requests.js';
import type { AppContext } from '../app-context.js';
import type { Exchange } from '../exchange.js';
import { guard } from '../guard.js';
import { readJson } from '../json-body.js';
import { parsePositiveInt } from '../paths.js';
import { methodNotAllowed, routeNotFound } from '../route-errors.js';

export async function aliasRoutes(ctx: AppContext, x: Exchange, name: string, tail: string[]): Promise<void> {
  const [alias, action, ...extra] = tail;
  if (extra.length > 0) routeNotFound(x);
  if (alias === undefined) {
    if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
    x.route = 'aliases.list';
    guard(ctx, x, 'reader', name, 'aliases');
    x.json(200, { aliases: ctx.registry.getModel(name).aliases });
    return;
  }
  assertAlias(alias);
  const moverRole: Role = ctx.registry.moverRole(alias);

  if (action === 'history') {
    if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
    x.route = 'aliases.history';
    guard(ctx, x, 'reader', name, 'alias history');
    const at = x.param('at');
    if (at) {
      const when = new Date(at);
      if (Number.isNaN(when.getTime()))
        throw badRequest('TIME_INVALID', `invalid time "${at.slice(0, 60)}": use ISO 8601, e.g. 2026-01-31T12:00:00Z`);
      x.json(200, { name, alias, at: when.toISOString(), ...ctx.registry.aliasAt(name, alias, when) });
      return;
    }
    x.json(200, { name, alias, history: ctx.registry.aliasHistory(name, alias) });
    return;
  }
  if (action === 'rollback') {
    if (x.method === 'GET') {
      // What a POST without toVersion would do now, so a client can confirm it and then send it as toVersion/expectedVersion.
      x.route = 'aliases.rollbackPlan';
      guard(ctx, x, 'reader', name, `rollback plan of @${alias}`);
      x.json(200, { name, alias, ...ctx.registry.rollbackPlan(name, alias) });
      return;
    }
    if (x.method !== 'POST') methodNotAllowed(x, ['GET', 'POST']);
    x.route = 'aliases.rollback';
    const principal = guard(ctx, x, moverRole, name, `rollback of @${alias}`);
    const body = x.hasBody ? parseBody(rollbackBody, await readJson(x, ctx.config.server.maxJsonBytes)) : {};
    x.json(
      200,
      await ctx.registry.rollback(
        name,
        alias,
        { toVersion: body.toVersion, expected: body.expectedVersion, reason: body.reason },
        principal,
      ),
    );
    return;
  }
  if (action !== undefined) routeNotFound(x);

  if (x.method === 'PUT') {
    x.route = 'aliases.set';
    const principal = guard(ctx, x, moverRole, name, `moving @${alias}`);
    const body = parseBody(setAliasBody, await readJson(x, ctx.config.server.maxJsonBytes));
    x.json(200, await ctx.registry.setAlias(name, alias, body.version, { expected: body.expectedVersion, reason: body.reason }, principal));
    return;
  }
  if (x.method === 'DELETE') {
    x.route = 'aliases.delete';
    const principal = guard(ctx, x, moverRole, name, `deleting @${alias}`);
    const expected = x.param('expectedVersion');
    x.json(
      200,
      await ctx.registry.deleteAlias(name, alias, expected ? parsePositiveInt(expected, 'expectedVersion') : undefined, principal),
    );
    return;
  }
  if (x.method === 'GET') {
    x.route = 'aliases.show';
    guard(ctx, x, 'reader', name, 'alias');
    const r = ctx.registry.resolveOrThrow(name, alias);
    x.json(200, { name, alias, version: r.version.version, digest: r.version.digest, seq: r.seq, updatedAt: r.updatedAt });
    return;
  }
  methodNotAllowed(x, ['GET', 'PUT', 'DELETE']);
}
