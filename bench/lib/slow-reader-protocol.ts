// Messages between the bench and its slow-reader client process (the `memory` scenario).
import type { FetchTarget } from './clients/fetcher.js';

export interface SlowReadJob extends FetchTarget {
  connections: number;
  /** Per connection: slow enough that no download ends while the phase lasts. */
  bytesPerSecond: number;
  /** How long to hold every connection open once all have answered. */
  holdSeconds: number;
}

export interface SlowReadOutcome {
  opened: number;
  /** Connections still receiving when the phase ended (all of them, unless the server cut some). */
  openAtEnd: number;
  bytes: number;
  seconds: number;
  loadCpuPercent: number;
}

export type SlowReadMessage =
  | { type: 'all-open' }
  | { type: 'done'; outcome: SlowReadOutcome }
  | { type: 'failed'; message: string };
