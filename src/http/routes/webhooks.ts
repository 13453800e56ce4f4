// /v1/webhooks: admin-only webhook endpoints, their delivery log, replays, pings and secret
// rotation. A signing secret is returned once, at creation or rotation.
import type { TemplatedApp } from 'uWebSockets.js';
import { createWebhookBody, parseBody, rotateWebhookBody } from '../../domain/requests.js';
import { webhookView } from '../../domain/webhooks.js';
import type { AppContext } from '../app-context.js';
import { type Exchange, route } from '../exchange.js';
import { guardGlobal } from '../guard.js';
import { readJson } from '../json-body.js';
import { decode, parseLimit } from '../paths.js';
import { methodNotAllowed, routeNotFound } from '../route-errors.js';

const PREFIX = '/v1/webhooks/';

export function registerWebhookRoutes(app: TemplatedApp, ctx: AppContext): void {
  app.post(
    '/v1/webhooks',
    route(ctx, 'webhooks.create', async (x) => {
      const principal = guardGlobal(ctx, x, 'admin', 'webhook registration');
      const body = parseBody(createWebhookBody, await readJson(x, ctx.config.server.maxJsonBytes));
      const { endpoint, secret } = await ctx.registry.webhooks.create(body, principal);
      x.json(201, { ...webhookView(endpoint), secret }, { Location: `${PREFIX}${endpoint.id}` });
    }),
  );
  app.get(
    '/v1/webhooks',
    route(ctx, 'webhooks.list', (x) => {
      guardGlobal(ctx, x, 'admin', 'webhook list');
      x.json(200, { webhooks: ctx.registry.webhooks.list().map((w) => webhookView(w)) });
    }),
  );
  app.any(
    `${PREFIX}*`,
    route(ctx, 'webhooks', (x) => dispatch(ctx, x)),
  );
}

function dispatch(ctx: AppContext, x: Exchange): Promise<void> | void {
  const [id, resource, deliveryId, action, ...extra] = x.path.slice(PREFIX.length).split('/').map(decode);
  if (!id || extra.length > 0) routeNotFound(x);
  if (resource === undefined) return endpointRoute(ctx, x, id);
  if (resource === 'deliveries' && deliveryId === undefined) {
    if (x.method !== 'GET') methodNotAllowed(x, ['GET']);
    x.route = 'webhooks.deliveries';
    return listDeliveries(ctx, x, id);
  }
  if (resource === 'deliveries' && deliveryId && action === 'redeliver') {
    if (x.method !== 'POST') methodNotAllowed(x, ['POST']);
    x.route = 'webhooks.redeliver';
    return redeliver(ctx, x, id, deliveryId);
  }
  if (deliveryId !== undefined) routeNotFound(x);
  if (resource === 'test') {
    if (x.method !== 'POST') methodNotAllowed(x, ['POST']);
    x.route = 'webhooks.test';
    return ping(ctx, x, id);
  }
  if (resource === 'rotate') {
    if (x.method !== 'POST') methodNotAllowed(x, ['POST']);
    x.route = 'webhooks.rotate';
    return rotate(ctx, x, id);
  }
  routeNotFound(x);
}

async function endpointRoute(ctx: AppContext, x: Exchange, id: string): Promise<void> {
  if (x.method === 'GET') {
    x.route = 'webhooks.show';
    guardGlobal(ctx, x, 'admin', 'webhook');
    x.json(200, webhookView(ctx.registry.webhooks.require(id)));
    return;
  }
  if (x.method === 'DELETE') {
    x.route = 'webhooks.remove';
    const principal = guardGlobal(ctx, x, 'admin', 'webhook removal');
    x.json(200, webhookView(await ctx.registry.webhooks.remove(id, principal)));
    return;
  }
  methodNotAllowed(x, ['GET', 'DELETE']);
}

async function listDeliveries(ctx: AppContext, x: Exchange, id: string): Promise<void> {
  guardGlobal(ctx, x, 'admin', 'webhook delivery log');
  const limit = parseLimit(x.param('limit'), 100, 1000);
  x.json(200, { webhook: id, deliveries: await ctx.registry.webhooks.deliveries(id, limit) });
}

async function redeliver(ctx: AppContext, x: Exchange, id: string, deliveryId: string): Promise<void> {
  guardGlobal(ctx, x, 'admin', 'webhook replay');
  const delivery = await ctx.registry.webhooks.redeliver(id, deliveryId);
  ctx.webhooks.kick();
  x.json(202, delivery);
}

async function ping(ctx: AppContext, x: Exchange, id: string): Promise<void> {
  guardGlobal(ctx, x, 'admin', 'webhook test');
  const endpoint = ctx.registry.webhooks.require(id);
  const result = await ctx.webhooks.ping(endpoint);
  const ok = result.status !== null && result.status >= 200 && result.status < 300;
  x.json(200, { webhook: id, ok, ...result });
}

async function rotate(ctx: AppContext, x: Exchange, id: string): Promise<void> {
  const principal = guardGlobal(ctx, x, 'admin', 'webhook secret rotation');
  // The body is optional: no body rotates with the configured grace period.
  const body = parseBody(rotateWebhookBody, x.hasBody ? await readJson(x, ctx.config.server.maxJsonBytes) : {});
  const grace = body.graceSeconds ?? ctx.config.webhooks.rotationGraceSeconds;
  const { endpoint, secret } = await ctx.registry.webhooks.rotate(id, grace, principal);
  x.json(200, { ...webhookView(endpoint), secret });
}
