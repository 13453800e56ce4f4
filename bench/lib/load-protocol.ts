// Messages between the bench and its autocannon child process.

export interface LoadJob {
  url: string;
  connections: number;
  durationSeconds: number;
  /** Unmeasured run first, so both servers are measured with warm JITs and open connections. */
  warmupSeconds: number;
  headers: Record<string, string>;
  /** Paths to cycle through; the url's path when absent. Prebuilt by autocannon, so no per-request cost. */
  paths?: string[];
}

export interface LoadOutcome {
  requestsPerSecond: number;
  /** Latency from every response at microsecond resolution (autocannon's own histogram keeps whole ms). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** autocannon's `latency.p50` / `latency.p99`, whole milliseconds. */
  autocannonP50Ms: number;
  autocannonP99Ms: number;
  total2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  wallSeconds: number;
  /** The child's own CPU (process.cpuUsage) over the measured phase, percent of one core. */
  loadCpuPercent: number;
}
