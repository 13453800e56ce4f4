// Messages between the bench and its propagation detector process (propagation-child.ts) and its
// Redis fan-out baseline process (fanout-child.ts).

export interface PropagationJob {
  /** Every node's port; round r calls the API on node r mod nodes.length. */
  ports: number[];
  token: string;
  model: string;
  alias: string;
  /** The two versions the rounds alternate between; the alias points at `versions[startIndex]` now. */
  versions: { version: number; digest: string }[];
  startIndex: number;
  warmupRounds: number;
  rounds: number;
  /** Idle time between rounds, so each round starts from a quiet cluster. */
  gapMs: number;
  /** A node with no watch notice this long after the API call is polled anyway (counted as a watch miss). */
  fallbackMs: number;
  /** A round that has not reached every node by then fails the run. */
  timeoutMs: number;
}

export interface PropagationRound {
  round: number;
  /** The change's sequence number, from its watch notices (null if no notice came). */
  seq: number | null;
  /** When the API request was sent, wall clock (ms since the epoch, µs resolution): joins the round with node traces. */
  sentAtUnixMs: number;
  writer: number;
  toVersion: number;
  /** From sending the API request to its 200. */
  apiMs: number;
  /** Per node: from the 200 to the first GET resolve that answered with the new digest (may be negative: it came before the 200). */
  nodeFrom200Ms: number[];
  /** Per node: from the API request to the watch notice for this change. */
  nodeNoticeMs: (number | null)[];
  /** max(nodeFrom200Ms): the time until every node served the new digest, from the 200. */
  allFrom200Ms: number;
  /** The same from sending the API request. */
  allFromSendMs: number;
  /** GET resolve answers that still carried the old digest after a notice (the detector asked again at once). */
  staleAnswers: number;
  /** Nodes found by the fallback poll, not by their watch notice. */
  fallbackPolls: number;
}

export interface PropagationOutcome {
  rounds: PropagationRound[];
  seconds: number;
  /** The detector process's CPU over the measured rounds, percent of one core. */
  loadCpuPercent: number;
  resolveRequests: number;
}

export interface FanoutJob {
  redisUrl: string;
  channel: string;
  subscribers: number;
  warmupRounds: number;
  rounds: number;
  gapMs: number;
  timeoutMs: number;
  /** Each subscriber commits every message to its own LMDB environment under this directory before it counts as received. */
  lmdbDir?: string;
  /**
   * With lmdbDir: each subscriber then sends the round on a WebSocket and answers GET /round from
   * LMDB, and a subscriber counts when this process has its HTTP answer (what a node and the detector do).
   */
  serve?: boolean;
  /** With lmdbDir: CPU milliseconds each subscriber spends on every message first (a node's heavier work per change). */
  burnMs?: number;
}

export interface FanoutRound {
  round: number;
  /** From sending PUBLISH to its reply (Redis has written the message to every subscriber's socket). */
  publishReplyMs: number;
  /** Per subscriber process: from sending PUBLISH to its receipt. */
  receivedMs: number[];
  /** max(receivedMs). */
  allMs: number;
}

export interface FanoutOutcome {
  rounds: FanoutRound[];
  seconds: number;
  /** The publisher process's CPU over the measured rounds, percent of one core. */
  loadCpuPercent: number;
  /** The 8 subscriber processes together, percent of one core. */
  subscriberCpuPercent: number;
  subscriberPids: number[];
}
