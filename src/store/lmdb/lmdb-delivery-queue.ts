// The delivery queue of a single-node registry, in node-local LMDB tables beside the registry. One
// process uses it, so claims are made exclusive by running every operation in turn.
import type { WebhookDelivery } from '../../domain/webhooks.js';
import type { LocalTable } from '../../index/local-table.js';
import type { DeliveryQueue } from '../delivery-queue.js';

const CURSOR = 'cursor';

export class LmdbDeliveryQueue implements DeliveryQueue {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly records: LocalTable<WebhookDelivery>,
    /** id → epoch ms at which the pending delivery is due (or its claim runs out). */
    private readonly due: LocalTable<number>,
    private readonly meta: LocalTable<number>,
  ) {}

  cursor(): Promise<number> {
    return this.exclusive(async () => this.meta.get(CURSOR) ?? 0);
  }

  enqueue(deliveries: readonly WebhookDelivery[], through: number): Promise<void> {
    return this.exclusive(async () => {
      const writes: Promise<unknown>[] = [];
      for (const d of deliveries) {
        if (this.records.get(d.id)) continue;
        writes.push(this.records.put(d.id, d));
        if (d.status === 'pending') writes.push(this.due.put(d.id, d.nextAttemptAt));
      }
      if (through > (this.meta.get(CURSOR) ?? 0)) writes.push(this.meta.put(CURSOR, through));
      await Promise.all(writes);
    });
  }

  claimDue(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    return this.exclusive(async () => {
      const claimed: WebhookDelivery[] = [];
      for (const { key, value } of this.due.entries()) {
        if (claimed.length === limit) break;
        if (value > now) continue;
        const record = this.records.get(key);
        if (record) claimed.push(record);
      }
      await Promise.all(claimed.map((d) => this.due.put(d.id, now + leaseMs)));
      return claimed;
    });
  }

  settle(delivery: WebhookDelivery): Promise<void> {
    return this.exclusive(async () => {
      await Promise.all([
        this.records.put(delivery.id, delivery),
        delivery.status === 'pending' ? this.due.put(delivery.id, delivery.nextAttemptAt) : this.due.remove(delivery.id),
      ]);
    });
  }

  get(id: string): Promise<WebhookDelivery | undefined> {
    return Promise.resolve(this.records.get(id));
  }

  listForEndpoint(endpointId: string, limit: number): Promise<WebhookDelivery[]> {
    const found: WebhookDelivery[] = [];
    for (const { value } of this.records.entries()) if (value.endpointId === endpointId) found.push(value);
    return Promise.resolve(found.sort((a, b) => b.seq - a.seq).slice(0, limit));
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
