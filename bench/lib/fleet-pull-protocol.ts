// Messages between the bench and its fleet pull client (fleet-pull-child.ts).

export interface FleetPullJob {
  port: number;
  path: string;
  headers: Record<string, string>;
  /** Concurrent clients, each one GET of the whole object on its own connection. */
  clients: number;
  size: number;
  /** The sha256 (hex) every client must end up with. */
  sha256: string;
}

export interface ClientResult {
  status: number;
  bytes: number;
  sha256: string;
  ok: boolean;
  /** From the common start to the response headers, and to the last byte. */
  headersSeconds: number;
  seconds: number;
  error?: string;
}

export interface FleetPullOutcome {
  client: string;
  /** From starting every request at once to the last client's last byte. */
  wallSeconds: number;
  /** clients × size / wallSeconds, in 10^9 bytes/s. */
  aggregateGbPerSecond: number;
  verified: number;
  results: ClientResult[];
  /** This process's CPU (HTTP and sha256 of every byte) over the pull, percent of one core. */
  loadCpuPercent: number;
}
