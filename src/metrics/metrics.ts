// Prometheus metrics. Label children are resolved once per route/status pair so that recording a
// request on the hot path is a map lookup and two increments.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'modelgate_' });

const requests = new Counter({
  name: 'modelgate_http_requests_total',
  help: 'HTTP requests by route, method and status',
  labelNames: ['route', 'method', 'status'] as const,
  registers: [registry],
});

const duration = new Histogram({
  name: 'modelgate_http_request_duration_seconds',
  help: 'Time from request to the last byte handed to the socket, by route',
  labelNames: ['route'] as const,
  buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2, 10, 60],
  registers: [registry],
});

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

type RequestRecorder = { count: { inc(): void }; time: { observe(value: number): void } };
const recorders = new Map<string, RequestRecorder>();

export const httpMetrics = {
  observe(route: string, method: string, status: number, seconds: number): void {
    const key = `${route} ${method} ${status}`;
    let rec = recorders.get(key);
    if (!rec) {
      rec = { count: requests.labels(route, method, String(status)), time: duration.labels(route) };
      recorders.set(key, rec);
    }
    rec.count.inc();
    rec.time.observe(seconds);
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

let queueSize: () => number = () => 0;
new Gauge({
  name: 'modelgate_hash_queue_size',
  help: 'Hash tasks waiting for a worker thread',
  registers: [registry],
  collect() {
    this.set(queueSize());
  },
});

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
};
