// The webhook delivery log and its work queue, shared by every node of a registry. It is
// operational state, not registry state: attempts change it without a sequence number or an
// audit entry (the events themselves are in the control store's outbox, written with each change).
import type { WebhookDelivery } from '../domain/webhooks.js';

export interface DeliveryQueue {
  /** The highest outbox sequence whose deliveries have been enqueued (0 at first). */
  cursor(): Promise<number>;
  /**
   * Adds the deliveries that are not in the log yet (one already there, in whatever state, is left
   * alone, so nodes that enqueue the same outbox entries race harmlessly) and moves the cursor
   * up to `through` (never down).
   */
  enqueue(deliveries: readonly WebhookDelivery[], through: number): Promise<void>;
  /**
   * Takes up to `limit` pending deliveries due at `now` and hides them from every other claim for
   * `leaseMs` (on every node): one node attempts each. A claim whose holder dies without settling
   * becomes due again when the lease runs out.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]>;
  /** Stores an attempt's outcome: still pending (due again at nextAttemptAt), delivered or failed. */
  settle(delivery: WebhookDelivery): Promise<void>;
  get(id: string): Promise<WebhookDelivery | undefined>;
  /** The endpoint's deliveries, newest event first. */
  listForEndpoint(endpointId: string, limit: number): Promise<WebhookDelivery[]>;
}
