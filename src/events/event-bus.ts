import type { ChangeNotice } from '../domain/types.js';

export type NoticeListener = (notice: ChangeNotice) => void;

/**
 * Carries "sequence N changed model M" between nodes. Delivery is a fast path only: a bus may
 * lose messages (Redis pub/sub across a disconnect), so it also tells its users when they should
 * resynchronise from the authoritative store.
 */
export interface EventBus {
  publish(notice: ChangeNotice): void;
  subscribe(listener: NoticeListener): () => void;
  /** Called when messages may have been lost (after a reconnect), once the subscription is live again. */
  onResync(listener: () => void): () => void;
  close(): Promise<void>;
}
