// The registry's door for webhooks: endpoints are created, rotated and removed here (each change
// audited by the store in the same commit), the outbox is read from here, and the delivery log is
// read and replayed here. Sending lives in src/webhooks.
import { randomBytes } from 'node:crypto';
import { badRequest, notFound } from '../domain/errors.js';
import type { Actor } from '../domain/types.js';
import { generateWebhookSecret, isEventPattern, type OutboxEntry, type WebhookDelivery, type WebhookEndpoint } from '../domain/webhooks.js';
import { resolvedRefusal, urlRefusal } from '../lib/network-guard.js';
import type { ControlStore, DeliveryQueue } from '../store/control-store.js';

const SCOPE = /^[a-z0-9._/*-]{1,128}$/;

export interface NewWebhook {
  url: string;
  events: string[];
  scope: string;
  description: string;
}

export class WebhookRegistry {
  readonly queue: DeliveryQueue;

  constructor(
    private readonly store: ControlStore,
    /** webhooks.allowPrivateNetworks: private, loopback and link-local targets are allowed (tests, on-premise receivers). */
    readonly allowPrivateNetworks: boolean,
  ) {
    this.queue = store.deliveryQueue();
  }

  /** Registers an endpoint after checking its URL (scheme, and every address its host resolves to); returns it with its secret. */
  async create(input: NewWebhook, actor: Actor): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const events = [...new Set(input.events)];
    const bad = events.find((e) => !isEventPattern(e));
    if (bad !== undefined || events.length === 0) {
      throw badRequest(
        'WEBHOOK_EVENTS_INVALID',
        bad === undefined
          ? 'events must name at least one event type, or "*"'
          : `event "${bad.slice(0, 80)}" is not an event type or glob such as "alias.set", "alias.*" or "*"`,
      );
    }
    if (!SCOPE.test(input.scope) || input.scope.includes('**')) {
      throw badRequest(
        'SCOPE_INVALID',
        `invalid scope "${input.scope.slice(0, 80)}": a model-name glob such as "*", "risk/*" or "team/model"`,
      );
    }
    // Last, as it may ask DNS.
    await this.checkUrl(input.url);
    const secret = generateWebhookSecret();
    const id = `wh_${randomBytes(8).toString('hex')}`;
    const endpoint = await this.store.createWebhook(
      { id, url: input.url, events, scope: input.scope, description: input.description, secret },
      actor,
    );
    return { endpoint, secret };
  }

  /** A new secret signs from now on; the old one keeps signing for `graceSeconds`. */
  async rotate(id: string, graceSeconds: number, actor: Actor): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const secret = generateWebhookSecret();
    const until = new Date(Date.now() + graceSeconds * 1000).toISOString();
    return { endpoint: await this.store.rotateWebhook(id, secret, until, actor), secret };
  }

  remove(id: string, actor: Actor): Promise<WebhookEndpoint> {
    return this.store.deleteWebhook(id, actor);
  }

  list(): WebhookEndpoint[] {
    return this.store.listWebhooks();
  }

  get(id: string): WebhookEndpoint | undefined {
    return this.store.getWebhook(id);
  }

  require(id: string): WebhookEndpoint {
    const found = this.store.getWebhook(id);
    if (!found) throw notFound('WEBHOOK_NOT_FOUND', `webhook ${id} does not exist`);
    return found;
  }

  /** Outbox entries after `afterSeq` in this node's replica. */
  outboxAfter(afterSeq: number, limit: number): OutboxEntry[] {
    return this.store.outboxEntries(afterSeq, limit);
  }

  /** The outbox entry with this sequence, if this node's replica has it. */
  outboxEntry(seq: number): OutboxEntry | undefined {
    return this.store.outboxEntryAt(seq);
  }

  deliveries(id: string, limit: number): Promise<WebhookDelivery[]> {
    this.require(id);
    return this.queue.listForEndpoint(id, limit);
  }

  /** Sends a delivery again (whatever its state): due now, with a fresh retry window; the receiver sees the same webhook-id. */
  async redeliver(id: string, deliveryId: string): Promise<WebhookDelivery> {
    this.require(id);
    const found = await this.queue.get(deliveryId);
    if (!found || found.endpointId !== id) throw notFound('DELIVERY_NOT_FOUND', `webhook ${id} has no delivery ${deliveryId}`);
    const now = Date.now();
    const again: WebhookDelivery = {
      ...found,
      status: 'pending',
      nextAttemptAt: now,
      retryFrom: new Date(now).toISOString(),
      finishedAt: null,
    };
    await this.queue.settle(again);
    return again;
  }

  /** Refuses URLs that are not http(s) or lead to private, loopback, link-local or metadata addresses (unless allowed). */
  async checkUrl(url: string): Promise<void> {
    const why = urlRefusal(url, this.allowPrivateNetworks);
    if (why) throw badRequest('WEBHOOK_URL_REFUSED', `webhook URL refused: ${why}`);
    if (this.allowPrivateNetworks) return;
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    let resolved: string | undefined;
    try {
      resolved = await resolvedRefusal(host);
    } catch (err) {
      throw badRequest(
        'WEBHOOK_URL_REFUSED',
        `webhook URL refused: ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
    if (resolved) throw badRequest('WEBHOOK_URL_REFUSED', `webhook URL refused: ${resolved}`);
  }
}
