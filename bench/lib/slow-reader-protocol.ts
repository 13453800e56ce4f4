// The job and outcome of the slow-reader client process (the `memory` scenario). Besides `done` and
// `failed` (child-job.ts) the client sends `all-open` once every connection is open.
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
