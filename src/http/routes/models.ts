// /v1/models/...: the dispatcher. Model names may hold one "/", so the path is split where the
// first sub-resource word appears (names may not end in such a word).
import type { TemplatedApp } from 'uWebSockets.js';
import { scopeMatches } from '../../auth/scope.js';
import { assertModelName } from '../../domain/names.js';
import { createModelBody, parseBody, updateModelBody } from '../../domain/requests.js';
import type { AppContext } from '../app-context.js';
import { route, type Exchange } from '../exchange.js';
import { guard } from '../guard.js';
import { readJson } from '../json-body.js';
import { decode, parseLimit } from '../paths.js';
import { methodNotAllowed, routeNotFound } from '../route-errors.js';
import { aliasRoutes } from './aliases.js';
import { fileRoute } from './files.js';
import { modelGraphRoute } from './impact.js';
import { versionRoutes } from './versions.js';

export const MODELS_PREFIX = '/v1/models/';
const SUB_RESOURCES = new Set(['versions', 'aliases', 'deployments', 'lineage', 'impact']);

export function registerModelRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.get(
    '/v1/models',
    route(ctx, 'models.list', (x) => listModels(ctx, x)),
  );
  app.post(
    '/v1/models',
    route(ctx, 'models.create', (x) => createModel(ctx, x)),
  );
  app.any(
    `${MODELS_PREFIX}*`,
    route(ctx, 'models', (x) => dispatch(ctx, x)),
  );
}

function dispatch(ctx: AppContext, x: Exchange): Promise<void> | void {
  const rest = x.path.slice(MODELS_PREFIX.length);
  if (rest.includes('@')) return fileRoute(ctx, x, rest);

  const segments = rest.split('/').map(decode);
  let cut = segments.findIndex((s, i) => i > 0 && SUB_RESOURCES.has(s));
  if (cut < 0) cut = segments.length;
  if (cut === 0 || cut > 2) routeNotFound(x);
  const name = assertModelName(segments.slice(0, cut).join('/'));
  const [resource, ...tail] = segments.slice(cut);

  if (resource === undefined) return modelRoute(ctx, x, name);
  if (resource === 'versions') return versionRoutes(ctx, x, name, tail);
  if (resource === 'aliases') return aliasRoutes(ctx, x, name, tail);
  if (tail.length > 0) routeNotFound(x);
  if (resource === 'lineage' || resource === 'impact') return modelGraphRoute(ctx, x, name, resource);
  if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
  x.route = 'models.deployments';
  guard(ctx, x, 'reader', name, 'deployment history');
  x.json(200, { name, deployments: ctx.registry.deployments(name) });
}

async function modelRoute(ctx: AppContext, x: Exchange, name: string): Promise<void> {
  if (x.method === 'GET') {
    x.route = 'models.show';
    guard(ctx, x, 'reader', name, 'model');
    x.json(200, ctx.registry.getModel(name));
    return;
  }
  if (x.method === 'PATCH') {
    x.route = 'models.update';
    const principal = guard(ctx, x, 'writer', name, 'model update');
    const body = parseBody(updateModelBody, await readJson(x, ctx.config.server.maxJsonBytes));
    x.json(200, await ctx.registry.updateModel(name, body, principal));
    return;
  }
  methodNotAllowed(x, ['GET', 'PATCH']);
}

async function createModel(ctx: AppContext, x: Exchange): Promise<void> {
  const principal = guard(ctx, x, 'writer', null, 'model creation');
  const body = parseBody(createModelBody, await readJson(x, ctx.config.server.maxJsonBytes));
  const name = assertModelName(body.name);
  ctx.auth.authorize(principal, 'writer', name, 'model creation');
  const model = await ctx.registry.createModel(
    name,
    { description: body.description ?? '', owner: body.owner ?? principal.name, tags: body.tags ?? [] },
    principal,
  );
  x.json(201, model, { Location: `${MODELS_PREFIX}${name}` });
}

function listModels(ctx: AppContext, x: Exchange): void {
  const principal = guard(ctx, x, 'reader', null, 'model list');
  const optional = (key: string) => x.param(key) || undefined;
  const page = ctx.registry.listModels(
    {
      prefix: optional('prefix'),
      tag: optional('tag'),
      owner: optional('owner'),
      alias: optional('alias'),
      text: optional('q'),
      visible: (name) => scopeMatches(principal.scope, name),
    },
    optional('cursor'),
    parseLimit(x.param('limit'), 100, 1000),
  );
  x.json(200, { models: page.items, nextCursor: page.nextCursor });
}
