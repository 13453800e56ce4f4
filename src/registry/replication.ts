// Commit → notice → apply: how every node's replica follows the authority. A node announces each
// change it committed on the event bus (a Redis store given the bus's channel publishes the notice
// inside its commit instead, and then has nothing for onCommit); every node that hears a notice
// catches its replica up to it (applying the shipped log entry directly when it is the next one),
// and after a possible loss of notices it reads the log from where it stands. The bus is only the fast path: the store's own
// anti-entropy pass is the backstop.
import type { EventBus } from '../events/event-bus.js';
import { logger } from '../log.js';
import type { ControlStore } from '../store/control-store.js';

/**
 * `applied` hears, for each notice that was news to this replica, the seconds until the replica
 * held it (the service feeds a metric with it; the registry knows no metrics).
 */
export function replicate(store: ControlStore, bus: EventBus, applied: (seconds: number) => void = () => undefined): void {
  store.onCommit((notice) => bus.publish(notice));
  bus.subscribe((notice) => {
    // Timed only when the notice is news to this replica: how long until it serves the change.
    const started = notice.change.seq > store.currentSeq() ? performance.now() : null;
    void store
      .sync(notice.change.seq, notice.replication)
      .then(() => {
        if (started !== null) applied((performance.now() - started) / 1000);
      })
      .catch((err: unknown) => logger.debug({ err }, 'catch-up after a notice failed'));
  });
  bus.onResync(() => void store.sync().catch((err: unknown) => logger.debug({ err }, 'resync failed')));
}
