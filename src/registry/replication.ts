// Commit → notice → apply: how every node's replica follows the authority. A node announces each
// change it committed on the event bus; every node that hears a notice catches its replica up to
// it (applying the shipped log entry directly when it is the next one), and after a possible loss
// of notices it reads the log from where it stands. The bus is only the fast path: the store's own
// anti-entropy pass is the backstop.
import type { EventBus } from '../events/event-bus.js';
import { logger } from '../log.js';
import type { ControlStore } from '../store/control-store.js';

export function replicate(store: ControlStore, bus: EventBus): void {
  store.onCommit((notice) => bus.publish(notice));
  bus.subscribe(
    (notice) =>
      void store
        .sync(notice.change.seq, notice.replication)
        .catch((err: unknown) => logger.debug({ err }, 'catch-up after a notice failed')),
  );
  bus.onResync(() => void store.sync().catch((err: unknown) => logger.debug({ err }, 'resync failed')));
}
