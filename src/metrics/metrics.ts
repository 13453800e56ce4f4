// Prometheus metrics. Requests are recorded in plain counters on the hot path and handed to
// prom-client when /metrics is scraped.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FleetStats } from '../domain/fleet.js';

export const registry = new Registry();
/**
 * How often the event-loop delay (modelgate_nodejs_eventloop_lag_*) is sampled, in ms. prom-client's
 * default of 10 ms is a libuv timer that wakes every node 100 times a second, busy or idle: on the
 * propagation bench's two shared cores the eight nodes' wake-ups were a steady part of their CPU
 * between changes. 100 ms still sees every stall longer than that, and a shorter one at random.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;
collectDefaultMetrics({ register: registry, prefix: 'modelgate_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

/**
 * Requests are counted in plain numbers on the hot path (a resolve costs a few microseconds in
 * all, and prom-client's label hashing on every increment and observation was a quarter of it);
 * prom-client reads them when /metrics is scraped.
 */
const DURATION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2, 10, 60];

type Sample = { labels: Record<string, string | number>; value: number; metricName: string };

/**
 * A histogram counted in plain numbers where it is observed: per-bucket counts (not cumulative),
 * sum and count, handed to prom-client when /metrics is scraped (registerPlainHistogram).
 */
class PlainHistogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly buckets: readonly number[]) {
    this.counts = new Float64Array(buckets.length);
  }

  observe(seconds: number): void {
    let i = 0;
    while (i < this.buckets.length && seconds > this.buckets[i]!) i++;
    if (i < this.buckets.length) this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  /** Its series as Prometheus has them (cumulative buckets, +Inf, sum, count), under `labels`. */
  samples(name: string, labels: Record<string, string>, out: Sample[]): void {
    let cumulative = 0;
    this.buckets.forEach((le, i) => {
      cumulative += this.counts[i]!;
      out.push({ labels: { le, ...labels }, value: cumulative, metricName: `${name}_bucket` });
    });
    out.push({ labels: { le: '+Inf', ...labels }, value: this.count, metricName: `${name}_bucket` });
    out.push({ labels, value: this.sum, metricName: `${name}_sum` });
    out.push({ labels, value: this.count, metricName: `${name}_count` });
  }
}

/** A histogram prom-client renders from PlainHistograms, one per label set (it has no way to add counts to its own). */
function registerPlainHistogram(name: string, help: string, series: () => Iterable<[Record<string, string>, PlainHistogram]>): void {
  registry.registerMetric({
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: Sample[] = [];
      for (const [labels, histogram] of series()) histogram.samples(name, labels, values);
      return Promise.resolve({ name, help, type: 'histogram', aggregator: 'sum', values });
    },
    reset() {
      for (const [, histogram] of series()) histogram.reset();
    },
  } as unknown as Parameters<Registry['registerMetric']>[0]);
}

/** Requests of one route, method and status. Get one with `httpMetrics.recorder` and keep it. */
export class RequestRecorder {
  count = 0;
  /** How much of `count` prom-client has been given. */
  reported = 0;

  constructor(
    readonly route: string,
    readonly method: string,
    readonly status: string,
    private readonly timing: PlainHistogram,
  ) {}

  observe(seconds: number): void {
    this.count++;
    this.timing.observe(seconds);
  }
}

const recorders = new Map<string, RequestRecorder>();
/** Request durations by route. */
const timings = new Map<string, PlainHistogram>();

new Counter({
  name: 'modelgate_http_requests_total',
  help: 'HTTP requests by route, method and status',
  labelNames: ['route', 'method', 'status'] as const,
  registers: [registry],
  collect() {
    for (const rec of recorders.values()) {
      if (rec.count === rec.reported) continue;
      this.labels(rec.route, rec.method, rec.status).inc(rec.count - rec.reported);
      rec.reported = rec.count;
    }
  },
});

registerPlainHistogram('modelgate_http_request_duration_seconds', 'Time from request to the last byte handed to the socket, by route', () =>
  [...timings].map(([route, histogram]): [Record<string, string>, PlainHistogram] => [{ route }, histogram]),
);

const bytesServed = new Counter({
  name: 'modelgate_bytes_served_total',
  help: 'Response body bytes sent for blob and file downloads',
  registers: [registry],
});

const bytesReceived = new Counter({
  name: 'modelgate_bytes_received_total',
  help: 'Request body bytes received for uploads',
  registers: [registry],
});

const inflightTransfers = new Gauge({
  name: 'modelgate_transfers_in_flight',
  help: 'Uploads and downloads currently streaming',
  labelNames: ['direction'] as const,
  registers: [registry],
});

export const httpMetrics = {
  /** The recorder for one route, method and status; hot paths look it up once and keep it. */
  recorder(route: string, method: string, status: number): RequestRecorder {
    const key = `${route} ${method} ${status}`;
    let rec = recorders.get(key);
    if (!rec) {
      let timing = timings.get(route);
      if (!timing) timings.set(route, (timing = new PlainHistogram(DURATION_BUCKETS)));
      rec = new RequestRecorder(route, method, String(status), timing);
      recorders.set(key, rec);
    }
    return rec;
  },
  observe(route: string, method: string, status: number, seconds: number): void {
    this.recorder(route, method, status).observe(seconds);
  },
  served(bytes: number): void {
    bytesServed.inc(bytes);
  },
  received(bytes: number): void {
    bytesReceived.inc(bytes);
  },
  transferStarted(direction: 'upload' | 'download'): void {
    inflightTransfers.labels(direction).inc();
  },
  transferEnded(direction: 'upload' | 'download'): void {
    inflightTransfers.labels(direction).dec();
  },
};

/**
 * Where the process's memory is, read at each scrape: what RSS holds beyond the JS heap (array
 * buffers, other external memory) and the upload buffer pool, so that growth after aborted
 * uploads can be attributed (bench scenario `aborts`).
 */
let ingestBuffers: () => { inUse: number; idle: number; allocated: number; waitingBytes: number } = () => ({
  inUse: 0,
  idle: 0,
  allocated: 0,
  waitingBytes: 0,
});
new Gauge({
  name: 'modelgate_memory_bytes',
  help: 'process.memoryUsage() by kind: rss, heap_used, external, array_buffers',
  labelNames: ['kind'] as const,
  registers: [registry],
  collect() {
    const m = process.memoryUsage();
    this.labels('rss').set(m.rss);
    this.labels('heap_used').set(m.heapUsed);
    this.labels('external').set(m.external);
    this.labels('array_buffers').set(m.arrayBuffers);
  },
});
new Gauge({
  name: 'modelgate_ingest_buffers',
  help: 'Upload buffers (1 MiB, shared with the hashing threads): in_use, idle in the pool, allocated ever',
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    const b = ingestBuffers();
    this.labels('in_use').set(b.inUse);
    this.labels('idle').set(b.idle);
    this.labels('allocated').set(b.allocated);
  },
});
new Gauge({
  name: 'modelgate_ingest_waiting_bytes',
  help: 'Upload bytes held in ordinary memory while every shared upload buffer is in use (each such upload is paused)',
  registers: [registry],
  collect() {
    this.set(ingestBuffers().waitingBytes);
  },
});
export function bindIngestBuffers(read: typeof ingestBuffers): void {
  ingestBuffers = read;
}

let queueSize: () => number = () => 0;
new Gauge({
  name: 'modelgate_hash_queue_size',
  help: 'Hash tasks waiting for a worker thread',
  registers: [registry],
  collect() {
    this.set(queueSize());
  },
});

/**
 * Replication on a Redis control plane: from hearing a change notice for a sequence this node's
 * replica does not hold yet to having it applied there (the node serves it from then on). With a
 * trace of the propagation bench it tells the replica's part of a slow round from the rest.
 */
export const replicationMetrics = {
  // Plain numbers too, though the path runs rarely: prom-client's observe took 0.75 µs in a loop
  // but 13 µs once every 20 ms (cold caches), which is how a node meets a change.
  applySeconds: new PlainHistogram([0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1]),
};
registerPlainHistogram(
  'modelgate_replication_apply_seconds',
  "From hearing a change notice this node's replica did not hold yet to having it applied there",
  () => [[{}, replicationMetrics.applySeconds]],
);

/** The event loop's share for request bodies (http/loop-share.ts): its plain counters, read when /metrics is scraped. */
let loopShareCounts: () => { pauses: number; pausedMs: number } = () => ({ pauses: 0, pausedMs: 0 });
/**
 * A counter over a plain running total kept elsewhere (the fleet, the loop share), read when
 * /metrics is scraped: it moves by what the total grew since the last scrape. `read` returns null
 * while there is nothing to read.
 */
function pulledCounter(name: string, help: string, read: () => number | null): void {
  let reported = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now === null) return;
      if (now > reported) this.inc(now - reported);
      reported = now;
    },
  });
}
const loopShareCounter = (name: string, help: string, read: (c: { pauses: number; pausedMs: number }) => number) =>
  pulledCounter(name, help, () => read(loopShareCounts()));
loopShareCounter(
  'modelgate_upload_share_pauses_total',
  'Times request bodies were paused because they had taken their share of the event loop while other requests were answered',
  (c) => c.pauses,
);
loopShareCounter(
  'modelgate_upload_share_paused_seconds_total',
  'Seconds request bodies spent paused for the event loop share',
  (c) => c.pausedMs / 1000,
);
export const loopShareMetrics = {
  bind(read: () => { pauses: number; pausedMs: number }): void {
    loopShareCounts = read;
  },
};

export const hashMetrics = {
  taskSeconds: new Histogram({
    name: 'modelgate_hash_task_seconds',
    help: 'Duration of hashing tasks on the worker pool (a streamed task lasts as long as its upload)',
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [registry],
  }),
  bindQueue(read: () => number): void {
    queueSize = read;
  },
  /** Resumable uploads committed, by how their digest was taken: from the hash kept as chunks arrived, or by reading the bytes back. */
  sessionCommits: new Counter({
    name: 'modelgate_upload_session_commits_total',
    help: 'Resumable upload commits by how the digest was taken: on_arrival (chunks hashed in order on this node) or read_back (the stored bytes re-read at commit)',
    labelNames: ['hashed'] as const,
    registers: [registry],
  }),
};

/** Fleet telemetry's own numbers, read when /metrics is scraped (the fleet keeps plain counters). */
type FleetCounts = FleetStats;

let fleetCounts: () => FleetCounts | null = () => null;
new Gauge({
  name: 'modelgate_fleet_pending_entries',
  help: 'Fleet observations counted in memory and not yet flushed to the store',
  registers: [registry],
  collect() {
    this.set(fleetCounts()?.pending ?? 0);
  },
});
const fleetCounter = (name: string, help: string, read: (c: FleetCounts) => number) =>
  pulledCounter(name, help, () => {
    const counts = fleetCounts();
    return counts ? read(counts) : null;
  });
fleetCounter(
  'modelgate_fleet_dropped_total',
  'New fleet callers not counted because the in-memory window was full (fleet.maxPendingEntries)',
  (c) => c.dropped,
);
fleetCounter('modelgate_fleet_malformed_headers_total', 'X-Modelgate-Deployment headers ignored as malformed', (c) => c.malformed);
fleetCounter(
  'modelgate_fleet_store_dropped_total',
  'Fleet rows refused because the store holds fleet.maxRecords rows',
  (c) => c.storeDropped,
);
fleetCounter('modelgate_fleet_flush_failures_total', 'Fleet flushes that failed (their observations are lost)', (c) => c.flushFailures);
fleetCounter('modelgate_fleet_reports_total', 'Runtime reports received on POST /v1/fleet/reports', (c) => c.reports);
fleetCounter(
  'modelgate_fleet_unregistered_total',
  'Unregistered artifacts (digest, deployment, instance) reported for the first time',
  (c) => c.unregisteredFound,
);
fleetCounter(
  'modelgate_fleet_straggler_findings_total',
  'Alias moves this node recorded as fleet.stragglers findings (instances still behind after the straggler window)',
  (c) => c.stragglerFindings,
);
fleetCounter(
  'modelgate_fleet_straggler_check_failures_total',
  'Straggler checks that failed (the fleet store or the control store could not be reached)',
  (c) => c.stragglerCheckFailures,
);
fleetCounter(
  'modelgate_fleet_summaries_total',
  'Fleet watch summaries computed (only for models someone watches on this node)',
  (c) => c.summaries,
);

export const fleetMetrics = {
  bind(read: () => FleetCounts): void {
    fleetCounts = read;
  },
};

const webhookAttempts = new Counter({
  name: 'modelgate_webhook_attempts_total',
  help: 'Webhook delivery attempts by outcome (delivered, retry: a failed attempt to be retried, failed: given up)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

const webhookLatency = new Histogram({
  name: 'modelgate_webhook_attempt_duration_seconds',
  help: 'Time from sending a webhook delivery to its answer (or failure)',
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const webhookMetrics = {
  attempt(outcome: 'delivered' | 'retry' | 'failed', seconds: number): void {
    webhookAttempts.labels(outcome).inc();
    webhookLatency.observe(seconds);
  },
};
