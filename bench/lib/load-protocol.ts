// A load job for wrk (load.ts), and what it measured.

export interface LoadJob {
  url: string;
  connections: number;
  durationSeconds: number;
  /** An unmeasured run first, so every server is measured with its JIT warm. */
  warmupSeconds: number;
  headers: Record<string, string>;
  /** Paths to cycle through; the url's path when absent. Prebuilt by the script's init(), so no per-request formatting. */
  paths?: string[];
}

export interface LoadOutcome {
  requestsPerSecond: number;
  /** Latency of every response, from wrk's histogram (microsecond resolution). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  total2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  wallSeconds: number;
  /** wrk's own CPU over its run, percent of one core. */
  loadCpuPercent: number;
}
