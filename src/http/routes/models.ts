// /v1/models/...: models, versions, aliases and files. Model names may hold one "/", so the path
// is split where the first sub-resource word appears (names may not end in such a word).
import type { TemplatedApp } from 'uWebSockets.js';
import { ApiError } from '../../errors.js';
import { assertAlias, assertFilePath, assertModelName, parseReference } from '../../registry/names.js';
import {
  parseBody,
  registerVersionBody,
  rollbackBody,
  setAliasBody,
  updateVersionBody,
} from '../../registry/requests.js';
import type { AppContext } from '../app-context.js';
import { route, type Exchange } from '../exchange.js';
import { guard } from '../guard.js';
import { readJson } from '../json-body.js';
import { decode, parseLimit, parsePositiveInt } from '../paths.js';
import { IMMUTABLE, serveBlob } from './blobs.js';

const PREFIX = '/v1/models/';
const SUB_RESOURCES = new Set(['versions', 'aliases']);

export function registerModelRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.get('/v1/models', route('models.list', (x) => listModels(ctx, x)));
  app.any(`${PREFIX}*`, route('models', (x) => dispatch(ctx, x)));
}

function methodNotAllowed(x: Exchange, allowed: string[]): never {
  throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${x.method} is not allowed on ${x.path.slice(0, 200)}`, undefined, {
    Allow: allowed.join(', '),
  });
}

function routeNotFound(x: Exchange): never {
  throw new ApiError(404, 'ROUTE_NOT_FOUND', `no route for ${x.method} ${x.path.slice(0, 200)}`);
}

function dispatch(ctx: AppContext, x: Exchange): Promise<void> | void {
  const rest = x.path.slice(PREFIX.length);
  if (rest.includes('@')) return files(ctx, x, rest);

  const segments = rest.split('/').map(decode);
  let cut = segments.findIndex((s, i) => i > 0 && SUB_RESOURCES.has(s));
  if (cut < 0) cut = segments.length;
  if (cut === 0 || cut > 2) routeNotFound(x);
  const name = assertModelName(segments.slice(0, cut).join('/'));
  const [resource, id, action, ...extra] = segments.slice(cut);
  if (extra.length > 0) routeNotFound(x);

  if (resource === undefined) {
    if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
    x.route = 'models.show';
    guard(ctx, x, 'reader', name);
    x.json(200, ctx.registry.getModel(name));
    return;
  }
  if (resource === 'versions') return versions(ctx, x, name, id, action);
  return aliases(ctx, x, name, id, action);
}

function listModels(ctx: AppContext, x: Exchange): void {
  guard(ctx, x, 'reader', 'models');
  const prefix = x.param('prefix') || undefined;
  const page = ctx.registry.listModels(prefix, x.param('cursor') || undefined, parseLimit(x.param('limit'), 100, 1000));
  x.json(200, { models: page.items, nextCursor: page.nextCursor });
}

async function versions(ctx: AppContext, x: Exchange, name: string, id: string | undefined, action: string | undefined): Promise<void> {
  if (action !== undefined) routeNotFound(x);
  if (id === undefined) {
    if (x.method === 'POST') {
      x.route = 'versions.register';
      const principal = guard(ctx, x, 'writer', name);
      const body = parseBody(registerVersionBody, await readJson(x, ctx.config.server.maxJsonBytes));
      const { version, created } = await ctx.registry.registerVersion(name, body.files, body.metadata ?? {}, principal);
      x.json(created ? 201 : 200, version, { Location: `${PREFIX}${name}/versions/${version.version}` });
      return;
    }
    if (x.method !== 'GET') methodNotAllowed(x, ['GET', 'POST']);
    x.route = 'versions.list';
    guard(ctx, x, 'reader', name);
    const cursor = x.param('cursor');
    const page = ctx.registry.listVersions(name, cursor ? parsePositiveInt(cursor, 'cursor') : undefined, parseLimit(x.param('limit'), 100, 1000));
    x.json(200, { versions: page.items, nextCursor: page.nextCursor });
    return;
  }
  const number = parsePositiveInt(id, 'version');
  if (x.method === 'GET') {
    x.route = 'versions.show';
    guard(ctx, x, 'reader', name);
    x.json(200, ctx.registry.getVersion(name, number));
    return;
  }
  if (x.method === 'PATCH') {
    x.route = 'versions.update';
    const principal = guard(ctx, x, 'writer', name);
    const body = parseBody(updateVersionBody, await readJson(x, ctx.config.server.maxJsonBytes));
    x.json(200, await ctx.registry.updateMetadata(name, number, body.metadata, principal));
    return;
  }
  methodNotAllowed(x, ['GET', 'PATCH']);
}

async function aliases(ctx: AppContext, x: Exchange, name: string, alias: string | undefined, action: string | undefined): Promise<void> {
  if (alias === undefined) {
    if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
    x.route = 'aliases.list';
    guard(ctx, x, 'reader', name);
    x.json(200, { aliases: ctx.registry.getModel(name).aliases });
    return;
  }
  assertAlias(alias);
  if (action === 'history') {
    if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
    x.route = 'aliases.history';
    guard(ctx, x, 'reader', name);
    x.json(200, { name, alias, history: ctx.registry.aliasHistory(name, alias) });
    return;
  }
  if (action === 'rollback') {
    if (x.method !== 'POST') methodNotAllowed(x, ['POST']);
    x.route = 'aliases.rollback';
    const principal = guard(ctx, x, 'writer', name);
    const body = x.hasBody ? parseBody(rollbackBody, await readJson(x, ctx.config.server.maxJsonBytes)) : {};
    x.json(200, await ctx.registry.rollback(name, alias, { toVersion: body.toVersion, expected: body.expectedVersion, reason: body.reason }, principal));
    return;
  }
  if (action !== undefined) routeNotFound(x);
  if (x.method === 'PUT') {
    x.route = 'aliases.set';
    const principal = guard(ctx, x, 'writer', name);
    const body = parseBody(setAliasBody, await readJson(x, ctx.config.server.maxJsonBytes));
    x.json(200, await ctx.registry.setAlias(name, alias, body.version, { expected: body.expectedVersion, reason: body.reason }, principal));
    return;
  }
  if (x.method === 'DELETE') {
    x.route = 'aliases.delete';
    const principal = guard(ctx, x, 'writer', name);
    const expected = x.param('expectedVersion');
    x.json(200, await ctx.registry.deleteAlias(name, alias, expected ? parsePositiveInt(expected, 'expectedVersion') : undefined, principal));
    return;
  }
  if (x.method === 'GET') {
    x.route = 'aliases.show';
    guard(ctx, x, 'reader', name);
    const r = ctx.registry.resolveOrThrow(name, alias);
    x.json(200, { name, alias, version: r.version.version, digest: r.version.digest, seq: r.seq, updatedAt: r.updatedAt });
    return;
  }
  methodNotAllowed(x, ['GET', 'PUT', 'DELETE']);
}

/** GET/HEAD /v1/models/{name}@{ref}/files/{path}: a version's file by its path. */
async function files(ctx: AppContext, x: Exchange, rest: string): Promise<void> {
  x.route = 'files.download';
  const marker = rest.indexOf('/files/');
  if (marker < 0) routeNotFound(x);
  if (x.method !== 'GET' && x.method !== 'HEAD') methodNotAllowed(x, ['GET', 'HEAD']);
  const { name, ref, parsed } = parseReference(decode(rest.slice(0, marker)));
  const path = assertFilePath(decode(rest.slice(marker + '/files/'.length)));
  guard(ctx, x, 'reader', name);
  const resolution = ctx.registry.resolveOrThrow(name, ref);
  const file = resolution.files.get(path);
  if (!file) throw new ApiError(404, 'FILE_NOT_FOUND', `${name}@${ref} has no file "${path}"`);
  // A file reached through an alias can change when the alias moves; through v<N> or a digest it cannot.
  const cacheControl = parsed.kind === 'alias' ? 'no-cache' : IMMUTABLE;
  await serveBlob(ctx.blobs, x, file.digest, cacheControl, {
    'X-Model-Version': resolution.versionHeader,
    'X-Model-Digest': resolution.version.digest,
  });
}
