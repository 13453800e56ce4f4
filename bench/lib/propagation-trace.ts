// Joins the propagation detector's rounds with each node's MODELGATE_TRACE_FILE timeline (one
// wall clock, µs, for every process on the machine) into one change's way end to end: the writer's
// EXEC, each node's notice arrival, replica write, watch message, the detector's notice and the
// resolve that first rendered the new state. Says which stage a slow round spent its time in.
import { readFileSync } from 'node:fs';
import { summarize, type LatencySummary } from './latency.js';
import type { PropagationRound } from './propagation-protocol.js';

interface Point {
  t: number;
  ev: string;
  seq?: number;
  model?: string;
}

/** One node's way through one round, ms from the API request (null where it has no point). */
export interface NodeTimeline {
  node: number;
  /** The writer's EXEC (same for every node of the round). */
  exec: number | null;
  noticeReceived: number | null;
  replicaStarted: number | null;
  replicaApplied: number | null;
  watchSent: number | null;
  detectorNotice: number | null;
  resolveRendered: number | null;
  /** The detector had the new digest from this node. */
  served: number;
}

export interface RoundTrace {
  round: number;
  seq: number;
  writer: number;
  /** The 200 arrived at the detector. */
  ok: number;
  allFrom200Ms: number;
  nodes: NodeTimeline[];
}

/** Per stage, over every node of every round: how long it took. */
export type StageSummaries = Record<string, LatencySummary>;

export function readTrace(file: string): Point[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Point);
}

export function joinTraces(rounds: PropagationRound[], traces: Point[][], model: string): RoundTrace[] {
  const bySeq = traces.map((points) => {
    const m = new Map<string, number>();
    for (const p of points) if (p.seq !== undefined && !m.has(`${p.ev}:${p.seq}`)) m.set(`${p.ev}:${p.seq}`, p.t / 1000);
    return m;
  });
  const renders = traces.map((points) => points.filter((p) => p.ev === 'resolve.rendered' && p.model === model).map((p) => p.t / 1000));
  const out: RoundTrace[] = [];
  for (const r of rounds) {
    if (r.seq === null) continue;
    const seq = r.seq;
    const t0 = r.sentAtUnixMs;
    const rel = (t: number | undefined) => (t === undefined ? null : t - t0);
    const exec = rel(bySeq[r.writer]?.get(`commit.exec:${seq}`));
    const nodes = traces.map((_, i): NodeTimeline => {
      const at = (ev: string) => rel(bySeq[i]!.get(`${ev}:${seq}`));
      const applied = bySeq[i]!.get(`replica.applied:${seq}`);
      const rendered = applied === undefined ? undefined : renders[i]!.find((t) => t >= applied);
      return {
        node: i,
        exec,
        noticeReceived: at('notice.received'),
        replicaStarted: at('replica.started'),
        replicaApplied: at('replica.applied'),
        watchSent: at('watch.sent'),
        detectorNotice: r.nodeNoticeMs[i] ?? null,
        resolveRendered: rel(rendered),
        served: r.apiMs + r.nodeFrom200Ms[i]!,
      };
    });
    out.push({ round: r.round, seq, writer: r.writer, ok: r.apiMs, allFrom200Ms: r.allFrom200Ms, nodes });
  }
  return out;
}

const STAGES: [string, keyof NodeTimeline, keyof NodeTimeline][] = [
  ['EXEC → notice received (pub/sub)', 'exec', 'noticeReceived'],
  ['notice received → replica write started (queue)', 'noticeReceived', 'replicaStarted'],
  ['replica write (started → applied)', 'replicaStarted', 'replicaApplied'],
  ['applied → watch message sent', 'replicaApplied', 'watchSent'],
  ['watch sent → detector has the notice', 'watchSent', 'detectorNotice'],
  ['detector notice → resolve rendered on the node', 'detectorNotice', 'resolveRendered'],
  ['resolve rendered → answer at the detector', 'resolveRendered', 'served'],
];

/** The writer's EXEC from the request, then each stage over every other node of every round. */
export function stageSummaries(traces: RoundTrace[]): StageSummaries {
  const out: StageSummaries = {
    'request → writer EXEC': summarize(traces.map((r) => r.nodes[0]!.exec).filter((x): x is number => x !== null)),
    'EXEC → 200 at the detector': summarize(traces.flatMap((r) => (r.nodes[0]!.exec === null ? [] : [r.ok - r.nodes[0]!.exec]))),
  };
  for (const [name, from, to] of STAGES) {
    const values: number[] = [];
    for (const r of traces) {
      for (const n of r.nodes) {
        if (n.node === r.writer) continue;
        const a = n[from] as number | null;
        const b = n[to] as number | null;
        if (a !== null && b !== null) values.push(b - a);
      }
    }
    out[name] = summarize(values);
  }
  return out;
}

/** The slowest rounds, each with the timeline of the node that came last. */
export function slowestRounds(traces: RoundTrace[], count: number): { round: RoundTrace; last: NodeTimeline }[] {
  return [...traces]
    .sort((a, b) => b.allFrom200Ms - a.allFrom200Ms)
    .slice(0, count)
    .map((round) => ({ round, last: round.nodes.reduce((a, b) => (b.served > a.served ? b : a)) }));
}

/** One line for a node's timeline: each point in ms from the request, with the 200 marked. */
export function timelineText(round: RoundTrace, n: NodeTimeline): string {
  const f = (x: number | null) => (x === null ? '—' : x.toFixed(2));
  return (
    `round ${round.round} (seq ${round.seq}, writer n${round.writer}, all nodes ${round.allFrom200Ms.toFixed(2)} ms after the 200), last node n${n.node}: ` +
    `EXEC ${f(n.exec)}, 200 at detector ${f(round.ok)}, notice received ${f(n.noticeReceived)}, replica write ${f(n.replicaStarted)}→${f(n.replicaApplied)}, ` +
    `watch sent ${f(n.watchSent)}, detector notice ${f(n.detectorNotice)}, resolve rendered ${f(n.resolveRendered)}, answer ${f(n.served)} ms from the request`
  );
}
