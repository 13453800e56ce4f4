// Delivers the webhook outbox, at least once, from every node at once without two nodes sending
// the same delivery: each pass enqueues the outbox entries committed since the shared cursor, then
// claims due deliveries under a lease (DeliveryQueue.claimDue) and sends them, a bounded number
// at a time. Nothing here is on the path of a commit or a resolve: the registry's change notices
// only wake the worker up, and a slow or dead receiver holds one sending slot until its timeout.
import { backoffDelay } from '../lib/retry.js';
import { logger } from '../log.js';
import { webhookMetrics } from '../metrics/metrics.js';
import type { Registry } from '../registry/registry.js';
import {
  newDelivery,
  signatureHeader,
  signingSecrets,
  webhookMessageId,
  webhookPayload,
  type OutboxEntry,
  type WebhookDelivery,
  type WebhookEndpoint,
} from '../domain/webhooks.js';
import { postWebhook, type SendResult } from './send.js';

export interface DeliverySettings {
  allowPrivateNetworks: boolean;
  timeoutSeconds: number;
  maxAgeSeconds: number;
  retryBaseMs: number;
  retryMaxSeconds: number;
  concurrency: number;
  leaseSeconds: number;
  pollMs: number;
}

const ENQUEUE_PAGE = 500;

export class DeliveryWorker {
  private inFlight = 0;
  private pumping = false;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly registry: Registry,
    private readonly settings: DeliverySettings,
  ) {}

  start(): void {
    // Only a change that wrote an outbox entry wakes the worker (a local read): waking it on every
    // change cost each node two Redis calls at the moment the change reached it, on the path of
    // propagation. Retries fall due on the poll below.
    this.registry.onChange((change) => {
      if (this.registry.webhooks.outboxEntry(change.seq)) this.kick();
    });
    this.timer = setInterval(() => this.kick(), this.settings.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Stops claiming and waits for the attempts in flight (each ends by its timeout at the latest). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.sending]);
  }

  /** Runs a pass now (or right after the one running). */
  kick(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
    });
  }

  /** Sends a `webhook.ping` to the endpoint now, outside the outbox, and reports how the receiver answered. */
  ping(endpoint: WebhookEndpoint): Promise<SendResult> {
    const at = new Date().toISOString();
    const body = JSON.stringify({ type: 'webhook.ping', timestamp: at, data: { webhook: endpoint.id } });
    return this.post(endpoint, `msg_ping_${Date.now()}_${endpoint.id}`, body);
  }

  private async pump(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.enqueueNew();
        await this.claimAndSend();
      } while (this.again && !this.stopped);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'webhook delivery pass failed; retrying on the next one');
    }
  }

  /** Adds a delivery per (outbox entry, endpoint) for the entries after the shared cursor. */
  private async enqueueNew(): Promise<void> {
    const queue = this.registry.webhooks.queue;
    let cursor = await queue.cursor();
    for (;;) {
      const entries = this.registry.webhooks.outboxAfter(cursor, ENQUEUE_PAGE);
      if (entries.length === 0) return;
      const deliveries = entries.flatMap((e) => e.endpoints.map((id) => newDelivery(e, id)));
      cursor = entries[entries.length - 1]!.seq;
      await queue.enqueue(deliveries, cursor);
    }
  }

  private async claimAndSend(): Promise<void> {
    const free = this.settings.concurrency - this.inFlight;
    if (free <= 0 || this.stopped) return;
    const claimed = await this.registry.webhooks.queue.claimDue(Date.now(), free, this.settings.leaseSeconds * 1000);
    for (const delivery of claimed) {
      this.inFlight++;
      const attempt = this.attempt(delivery)
        .catch((err: unknown) =>
          logger.warn({ err: (err as Error).message, delivery: delivery.id }, 'webhook attempt could not be recorded'),
        )
        .finally(() => {
          this.inFlight--;
          this.sending.delete(attempt);
          this.kick();
        });
      this.sending.add(attempt);
    }
  }

  private async attempt(delivery: WebhookDelivery): Promise<void> {
    const queue = this.registry.webhooks.queue;
    const entry = this.registry.webhooks.outboxEntry(delivery.seq);
    if (!entry) {
      // This node's replica has not applied the commit yet: hand it back without counting an attempt.
      await queue.settle({ ...delivery, nextAttemptAt: Date.now() + this.settings.pollMs });
      return;
    }
    const endpoint = this.registry.webhooks.get(delivery.endpointId);
    const now = Date.now();
    if (!endpoint) {
      await queue.settle({
        ...delivery,
        status: 'failed',
        lastError: 'the webhook was removed',
        finishedAt: new Date(now).toISOString(),
      });
      return;
    }
    const result = await this.post(endpoint, webhookMessageId(entry.seq, endpoint.id), webhookPayload(entry));
    const settled = this.outcome(delivery, result, entry);
    webhookMetrics.attempt(settled.status === 'pending' ? 'retry' : settled.status, result.latencyMs / 1000);
    await queue.settle(settled);
  }

  private post(endpoint: WebhookEndpoint, id: string, body: string): Promise<SendResult> {
    const now = Date.now();
    const timestamp = Math.floor(now / 1000);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(signingSecrets(endpoint, now), id, timestamp, body),
    };
    return postWebhook(endpoint.url, headers, body, {
      timeoutMs: this.settings.timeoutSeconds * 1000,
      allowPrivateNetworks: this.settings.allowPrivateNetworks,
    });
  }

  /** The delivery after an attempt: delivered on a 2xx; else retried with backoff until its retry window closes, then failed. */
  private outcome(delivery: WebhookDelivery, result: SendResult, entry: OutboxEntry): WebhookDelivery {
    const now = Date.now();
    const attempts = delivery.attempts + 1;
    const common = {
      ...delivery,
      attempts,
      lastAttemptAt: new Date(now).toISOString(),
      lastResponseCode: result.status,
      lastLatencyMs: result.latencyMs,
      lastError: result.error ?? (result.status !== null && (result.status < 200 || result.status >= 300) ? `HTTP ${result.status}` : null),
    };
    if (result.status !== null && result.status >= 200 && result.status < 300) {
      return { ...common, status: 'delivered', lastError: null, finishedAt: common.lastAttemptAt };
    }
    // Exponential with jitter (between half and all of the ceiling), the ceiling capped at retryMaxSeconds.
    const ceiling = Math.min(this.settings.retryBaseMs * 2 ** Math.min(attempts - 1, 40), this.settings.retryMaxSeconds * 1000);
    const delay = backoffDelay(1, ceiling);
    const windowEnds = Date.parse(delivery.retryFrom) + this.settings.maxAgeSeconds * 1000;
    if (now + delay > windowEnds) {
      logger.warn({ delivery: delivery.id, type: entry.type, attempts, error: common.lastError }, 'webhook delivery failed for good');
      return { ...common, status: 'failed', finishedAt: common.lastAttemptAt };
    }
    return { ...common, status: 'pending', nextAttemptAt: now + delay };
  }
}
