// Prometheus counters for the edge cache, shared by every cache in the process (prom-client allows
// one metric per name and registry); each cache also keeps plain counters of its own.
import { Counter, Gauge } from 'prom-client';
import { registry } from '../../metrics/metrics.js';

export const cacheMetrics = {
  hits: new Counter({
    name: 'modelgate_edge_cache_hits_total',
    help: 'Blob opens served from a complete cache entry',
    registers: [registry],
  }),
  misses: new Counter({
    name: 'modelgate_edge_cache_misses_total',
    help: 'Blob opens of a blob not (yet) in the cache: they started or joined a fill',
    registers: [registry],
  }),
  fills: new Counter({ name: 'modelgate_edge_cache_fills_total', help: 'Fills started from the origin', registers: [registry] }),
  fillFailures: new Counter({
    name: 'modelgate_edge_cache_fill_failures_total',
    help: 'Fills that ended without a verified blob, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  originBytes: new Counter({
    name: 'modelgate_edge_cache_origin_bytes_total',
    help: 'Bytes fills read from the origin',
    registers: [registry],
  }),
  evictions: new Counter({
    name: 'modelgate_edge_cache_evictions_total',
    help: 'Entries evicted to stay under the size limit',
    registers: [registry],
  }),
  bytes: new Gauge({
    name: 'modelgate_edge_cache_bytes',
    help: 'Bytes held (or reserved by fills) in the edge cache',
    registers: [registry],
  }),
};
