// Webhook endpoint changes as pure plans, audited like every other change (the audit entry names
// the URL, events and scope; a secret never enters the log).
import { webhookSecretDigest } from './audit-tables.js';
import { conflict, notFound } from './errors.js';
import { next, sequenceWrites } from './plans.js';
import type { RegistryReader } from './state.js';
import type { Actor } from './types.js';
import type { WebhookEndpoint } from './webhooks.js';
import type { Plan } from './writes.js';

export function planCreateWebhook(
  state: RegistryReader,
  input: Omit<WebhookEndpoint, 'createdAt' | 'createdBy' | 'seq' | 'secrets'> & { secret: string },
  actor: Actor,
): Plan<WebhookEndpoint> {
  if (state.getWebhook(input.id)) throw conflict('WEBHOOK_EXISTS', `webhook ${input.id} already exists`);
  const { seq, at } = next(state);
  const { secret, ...rest } = input;
  const endpoint: WebhookEndpoint = {
    ...rest,
    secrets: [{ secret, createdAt: at, expiresAt: null }],
    createdAt: at,
    createdBy: actor.name,
    seq,
  };
  return {
    result: endpoint,
    writes: [
      ...sequenceWrites(state, seq, at, actor, 'webhook.create', `webhook:${input.id}`, {
        url: input.url,
        events: input.events,
        scope: input.scope,
        secretDigest: webhookSecretDigest(secret),
      }),
      // Written after the outbox entry is planned, so an endpoint does not receive its own creation.
      { table: 'webhooks', key: input.id, value: endpoint },
    ],
    change: { seq, model: '', kind: 'webhook' },
  };
}

/**
 * Starts a rotation: `secret` signs from now on, and the secret(s) signing until now keep signing
 * until `previousUntil`. Secrets whose time is over are dropped.
 */
export function planRotateWebhook(
  state: RegistryReader,
  id: string,
  secret: string,
  previousUntil: string,
  actor: Actor,
): Plan<WebhookEndpoint> {
  const current = requireWebhook(state, id);
  const { seq, at } = next(state);
  const now = Date.parse(at);
  const kept = current.secrets
    .filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > now)
    .map((s) => ({ ...s, expiresAt: s.expiresAt === null || s.expiresAt > previousUntil ? previousUntil : s.expiresAt }));
  const endpoint: WebhookEndpoint = { ...current, secrets: [...kept, { secret, createdAt: at, expiresAt: null }], seq };
  return {
    result: endpoint,
    writes: [
      { table: 'webhooks', key: id, value: endpoint },
      ...sequenceWrites(state, seq, at, actor, 'webhook.rotate', `webhook:${id}`, {
        previousSecretsUntil: previousUntil,
        secretDigest: webhookSecretDigest(secret),
      }),
    ],
    change: { seq, model: '', kind: 'webhook' },
  };
}

export function planDeleteWebhook(state: RegistryReader, id: string, actor: Actor): Plan<WebhookEndpoint> {
  const current = requireWebhook(state, id);
  const { seq, at } = next(state);
  return {
    result: current,
    writes: [
      { table: 'webhooks', key: id },
      ...sequenceWrites(state, seq, at, actor, 'webhook.delete', `webhook:${id}`, { url: current.url }),
    ],
    change: { seq, model: '', kind: 'webhook' },
  };
}

export function requireWebhook(state: RegistryReader, id: string): WebhookEndpoint {
  const found = state.getWebhook(id);
  if (!found) throw notFound('WEBHOOK_NOT_FOUND', `webhook ${id} does not exist`);
  return found;
}
