// modelgate_replication_apply_seconds is counted in plain numbers and handed to prom-client at
// scrape time: the text must be the Prometheus histogram it was (cumulative buckets, +Inf, sum,
// count), in the form the propagation bench and dashboards read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registry, replicationMetrics } from '../src/metrics/metrics.js';

test('the replication apply histogram renders cumulative buckets, +Inf, sum and count', async () => {
  for (const seconds of [0.0001, 0.0003, 0.003, 0.003, 2]) replicationMetrics.applySeconds.observe(seconds);
  const text = await registry.metrics();
  const bucket = (le: string) => {
    const m = text.match(new RegExp(`^modelgate_replication_apply_seconds_bucket\\{le="${le.replace('+', '\\+')}"\\} (\\d+)$`, 'm'));
    return m ? Number(m[1]) : null;
  };
  assert.equal(bucket('0.0002'), 1);
  assert.equal(bucket('0.0005'), 2);
  assert.equal(bucket('0.002'), 2);
  assert.equal(bucket('0.005'), 4);
  assert.equal(bucket('1'), 4, 'a value past the last bound is in no bucket but +Inf');
  assert.equal(bucket('+Inf'), 5);
  assert.match(text, /^# TYPE modelgate_replication_apply_seconds histogram$/m);
  assert.match(text, /^modelgate_replication_apply_seconds_count 5$/m);
  const sum = Number(text.match(/^modelgate_replication_apply_seconds_sum (\S+)$/m)?.[1]);
  assert.ok(Math.abs(sum - 2.0064) < 1e-9, `sum ${sum}`);
  registry.resetMetrics();
  assert.match(await registry.metrics(), /^modelgate_replication_apply_seconds_count 0$/m);
});
