// /v1/models/{name}/versions[/{n}[/approvals|/history|/policy|/bom|/signatures[/{id}]|/retire]]
import { approvalBody, deleteVersionBody, parseBody, registerVersionBody, retireBody, updateVersionBody } from '../../domain/requests.js';
import { BOM_MEDIA_TYPE } from '../../domain/bom.js';
import type { AppContext } from '../app-context.js';
import type { Exchange } from '../exchange.js';
import { guard } from '../guard.js';
import { hasAt, requireAt } from '../point-in-time.js';
import { readJson } from '../json-body.js';
import { parseLimit, parsePositiveInt } from '../paths.js';
import { methodNotAllowed, routeNotFound } from '../route-errors.js';

const MODELS_PREFIX = '/v1/models/';

export async function versionRoutes(ctx: AppContext, x: Exchange, name: string, tail: string[]): Promise<void> {
  const [id, action, ...extra] = tail;
  if (extra.length > 0 && !(action === 'signatures' && extra.length === 1)) routeNotFound(x);
  if (id === undefined) return collection(ctx, x, name);
  const number = parsePositiveInt(id, 'version');
  if (action === 'approvals') return approvals(ctx, x, name, number);
  if (action === 'history') {
    if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
    x.route = 'versions.history';
    guard(ctx, x, 'reader', name, 'version history');
    x.json(200, { name, version: number, ...ctx.registry.versionHistory(name, number) });
    return;
  }
  if (action === 'policy') {
    if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
    x.route = 'versions.policy';
    guard(ctx, x, 'reader', name, 'policy status');
    x.json(200, { name, version: number, aliases: ctx.registry.policyStatus(name, number) });
    return;
  }
  if (action === 'bom') {
    if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
    x.route = 'versions.bom';
    guard(ctx, x, 'reader', name, 'BOM');
    const bom = ctx.registry.evidence.bom(name, number);
    x.send(200, JSON.stringify(bom), {
      'Content-Type': BOM_MEDIA_TYPE,
      'Content-Disposition': `attachment; filename="${name.replace(/\//g, '_')}-v${number}.cdx.json"`,
    });
    return;
  }
  if (action === 'signatures') return signatures(ctx, x, name, number, extra);
  if (action === 'retire') {
    if (x.method !== 'POST') methodNotAllowed(x, ['POST']);
    x.route = 'versions.retire';
    const principal = guard(ctx, x, 'approver', name, 'retirement');
    const body = x.hasBody ? parseBody(retireBody, await readJson(x, ctx.config.server.maxJsonBytes)) : {};
    x.json(200, await ctx.registry.retireVersion(name, number, body.reason, principal));
    return;
  }
  if (action !== undefined) routeNotFound(x);

  if (x.method === 'GET') {
    x.route = 'versions.show';
    guard(ctx, x, 'reader', name, 'version');
    const at = x.param('at');
    x.json(200, hasAt(x.query) ? ctx.registry.showVersionAt(name, number, requireAt(at)) : ctx.registry.showVersion(name, number));
    return;
  }
  if (x.method === 'PATCH') {
    x.route = 'versions.update';
    const principal = guard(ctx, x, 'writer', name, 'version update');
    const body = parseBody(updateVersionBody, await readJson(x, ctx.config.server.maxJsonBytes));
    x.json(200, await ctx.registry.updateVersion(name, number, body, principal, (model) => ctx.auth.permits(principal, 'reader', model)));
    return;
  }
  if (x.method === 'DELETE') {
    x.route = 'versions.delete';
    const principal = guard(ctx, x, 'admin', name, 'version deletion');
    const body = parseBody(deleteVersionBody, await readJson(x, ctx.config.server.maxJsonBytes));
    await ctx.registry.deleteVersion(name, number, body.reason, principal);
    x.send(204, null);
    return;
  }
  methodNotAllowed(x, ['GET', 'PATCH', 'DELETE']);
}

async function collection(ctx: AppContext, x: Exchange, name: string): Promise<void> {
  if (x.method === 'POST') {
    x.route = 'versions.register';
    const principal = guard(ctx, x, 'writer', name, 'version registration');
    const body = parseBody(registerVersionBody, await readJson(x, ctx.config.server.maxJsonBytes));
    const record = { metadata: body.metadata ?? {}, lineage: body.lineage ?? {}, metrics: body.metrics ?? {}, card: body.card ?? {} };
    const { version, created } = await ctx.registry.registerVersion(name, body.files, record, principal, {
      components: body.components,
      canRead: (model) => ctx.auth.permits(principal, 'reader', model),
    });
    x.json(created ? 201 : 200, version, { Location: `${MODELS_PREFIX}${name}/versions/${version.version}` });
    return;
  }
  if (x.method !== 'GET') methodNotAllowed(x, ['GET', 'POST']);
  x.route = 'versions.list';
  guard(ctx, x, 'reader', name, 'version list');
  const cursor = x.param('cursor');
  const page = ctx.registry.listVersions(
    name,
    cursor ? parsePositiveInt(cursor, 'cursor') : undefined,
    parseLimit(x.param('limit'), 100, 1000),
  );
  x.json(200, { versions: page.items, nextCursor: page.nextCursor });
}

async function approvals(ctx: AppContext, x: Exchange, name: string, number: number): Promise<void> {
  if (x.method === 'GET') {
    x.route = 'approvals.list';
    guard(ctx, x, 'reader', name, 'approvals');
    x.json(200, { name, version: number, approvals: ctx.registry.versionHistory(name, number).approvals });
    return;
  }
  if (x.method !== 'POST') methodNotAllowed(x, ['GET', 'POST']);
  x.route = 'approvals.decide';
  const principal = guard(ctx, x, 'approver', name, 'approval');
  const body = parseBody(approvalBody, await readJson(x, ctx.config.server.maxJsonBytes));
  const { approval, version } = await ctx.registry.decide(
    name,
    number,
    body.decision,
    { comment: body.comment, recordDigest: body.recordDigest },
    principal,
  );
  x.json(201, { ...approval, status: version.status });
}

/** POST a Sigstore bundle (verified, then attached); GET the list, or one bundle as submitted. */
async function signatures(ctx: AppContext, x: Exchange, name: string, number: number, extra: string[]): Promise<void> {
  if (extra.length === 1) {
    if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
    x.route = 'versions.signature';
    guard(ctx, x, 'reader', name, 'signature');
    const found = ctx.registry.signatures.get(name, number, extra[0]!);
    x.send(200, JSON.stringify(found.bundle), { 'Content-Type': 'application/vnd.dev.sigstore.bundle.v0.3+json' });
    return;
  }
  if (x.method === 'GET') {
    x.route = 'versions.signatures';
    guard(ctx, x, 'reader', name, 'signatures');
    const list = ctx.registry.signatures.list(name, number).map(({ bundle: _bundle, ...rest }) => rest);
    x.json(200, { name, version: number, signatures: list });
    return;
  }
  if (x.method === 'POST') {
    x.route = 'versions.sign';
    const principal = guard(ctx, x, 'writer', name, 'signature');
    const bundle = await readJson(x, ctx.config.server.maxJsonBytes);
    const { signature, created } = await ctx.registry.signatures.attach(name, number, bundle, principal);
    const { bundle: _bundle, ...view } = signature;
    x.json(created ? 201 : 200, view);
    return;
  }
  methodNotAllowed(x, ['GET', 'POST']);
}
