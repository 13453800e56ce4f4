// Opt-in timeline of one change's way through a node (MODELGATE_TRACE_FILE=<path>): commit, the
// notice's arrival, the replica write, the watch message, the first resolve that renders it.
// Stamped with the wall clock in microseconds (performance.timeOrigin + performance.now()), the
// one clock that compares across the processes of a cluster on one machine; kept in memory and
// written once when the process exits, so tracing adds no I/O to the path it times.
import { writeFileSync } from 'node:fs';

export interface TracePoint {
  /** Microseconds since the Unix epoch. */
  t: number;
  ev: string;
  seq?: number;
  model?: string;
}

const file = process.env.MODELGATE_TRACE_FILE;
/** A bound, so a forgotten trace on a busy node cannot grow without limit. */
const MAX_POINTS = 1_000_000;
const points: TracePoint[] = [];

if (file) process.once('exit', () => writeFileSync(file, points.map((p) => JSON.stringify(p)).join('\n') + '\n'));

export function trace(ev: string, seq?: number, model?: string): void {
  if (!file || points.length >= MAX_POINTS) return;
  points.push({
    t: Math.round((performance.timeOrigin + performance.now()) * 1000),
    ev,
    ...(seq !== undefined ? { seq } : {}),
    ...(model ? { model } : {}),
  });
}
