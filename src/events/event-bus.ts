import type { Change } from '../registry/types.js';

export type ChangeListener = (change: Change) => void;

/** Carries "sequence N changed model M" to caches and watchers. */
export interface EventBus {
  publish(change: Change): void;
  subscribe(listener: ChangeListener): () => void;
  close(): Promise<void>;
}
