import type { Change } from '../registry/types.js';
import type { ChangeListener, EventBus } from './event-bus.js';

/** In-process bus for a single node: delivery is synchronous, right after the commit. */
export class LocalEventBus implements EventBus {
  private readonly listeners = new Set<ChangeListener>();

  publish(change: Change): void {
    for (const listener of this.listeners) listener(change);
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
