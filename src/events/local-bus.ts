import type { ChangeNotice } from '../domain/types.js';
import type { EventBus, NoticeListener } from './event-bus.js';

/** In-process bus for a single node: synchronous delivery, nothing is ever lost, so never a resync. */
export class LocalEventBus implements EventBus {
  private readonly listeners = new Set<NoticeListener>();

  publish(notice: ChangeNotice): void {
    for (const listener of this.listeners) listener(notice);
  }

  subscribe(listener: NoticeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onResync(_listener: () => void): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
