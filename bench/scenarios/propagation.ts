// `propagation`: how long a rollback takes to reach every gateway node. One redis-server (AOF,
// fsync always) and 8 modelgate processes sharing it (control.backend=redis, one prefix). Each
// round calls the rollback API on one node (rotating) and times, from the API's 200 (and from the
// request), until every node answers GET /v1/resolve/{name}@production with the new digest.
// Baselines in the same run: raw Redis PUBLISH fan-out to 8 ioredis subscriber processes, and the
// same fan-out where each subscriber first commits the message to its own LMDB environment (what a
// node does to its replica before it serves the change), so the machine's floor for "tell 8
// processes and have each write it down" is measured beside the figure.
import os from 'node:os';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Api } from '../lib/api.js';
import { summarize, summaryText, type LatencySummary } from '../lib/latency.js';
import { registerTwoVersions, runFanout, runPropagation, type FanoutReport, type PropagationReport } from '../lib/propagation.js';
import { joinTraces, readTrace, slowestRounds, stageSummaries, timelineText } from '../lib/propagation-trace.js';
import { startRedis, type BenchRedis } from '../lib/redis.js';
import { startService, type RunningService } from '../lib/service.js';
import type { Comparison, Figure, Scenario, ScenarioContext } from './scenario.js';

const NODES = Number(process.env.BENCH_PROPAGATION_NODES ?? 8);
const ROUNDS = Number(process.env.BENCH_PROPAGATION_ROUNDS ?? 400);
/**
 * Rounds measured on the fresh nodes before anything else (BENCH_PROPAGATION_FRESH_ROUNDS), and
 * reported on their own row: the start-up transient. V8 compiles the code a change runs on a node's
 * own connections and tables (ioredis's commands and reply decoder, lmdb-js's writes, msgpackr's
 * codec, a closure of each open store) at the node's 50th–250th change, on all nodes at the same
 * change. The start-up rehearsal on scratch tables cannot reach those closures, and one through
 * Redis did not keep ioredis compiled: the first real commands deoptimised what it had compiled
 * (bench/results/20261207-propagation-gc.md). The turns after it measure nodes past that.
 */
const FRESH_ROUNDS = Number(process.env.BENCH_PROPAGATION_FRESH_ROUNDS ?? 300);
/**
 * Unmeasured rounds before each baseline and the first turn (BENCH_PROPAGATION_WARMUP). The nodes
 * are fresh processes: without their start-up rehearsal (control.warmUpChanges; set
 * MODELGATE_WARM_UP_CHANGES=0 to see it) V8 compiles the hot code (msgpackr's codec among it) in
 * their first few hundred changes, on every node at the same change
 * (bench/results/20261206-propagation-trace.md).
 */
const WARMUP = Number(process.env.BENCH_PROPAGATION_WARMUP ?? 20);
const GAP_MS = Number(process.env.BENCH_PROPAGATION_GAP_MS ?? 20);
/**
 * The rounds of modelgate and of the floor of a node's steps are split into this many turns each,
 * run alternately (floor, modelgate, modelgate, floor, …), so both see the same machine state.
 */
const TURNS = Math.max(1, Number(process.env.BENCH_PROPAGATION_TURNS ?? 8));
/**
 * CPU milliseconds each subscriber of the floor spends on every message before its steps
 * (BENCH_PROPAGATION_FLOOR_BURN_MS, default 0): gives the floor a node's CPU per change, to see
 * whether that alone stretches the floor's tail as far as modelgate's.
 */
const FLOOR_BURN_MS = Number(process.env.BENCH_PROPAGATION_FLOOR_BURN_MS ?? 0);
/** Unmeasured rounds at the start of every turn after the first (a fresh detector or fresh subscribers). */
const TURN_WARMUP = Math.min(10, WARMUP);
const TARGET_MS = 10;
/** BENCH_PROPAGATION_TRACE=1: every node keeps a MODELGATE_TRACE_FILE timeline, joined with the rounds afterwards. */
const TRACE = process.env.BENCH_PROPAGATION_TRACE === '1';
const MODEL = 'bench/propagation';
const ALIAS = 'production';

function fig(summary: LatencySummary, pick: 'p50' | 'p99' | 'max', loadCpuPercent: number, detail: Record<string, unknown>): Figure {
  return { value: summary[pick], unit: `ms ${pick}`, loadCpuPercent, detail };
}

async function waitForAll(apis: Api[], digest: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answers = await Promise.all(apis.map((api) => api.request('GET', `/v1/resolve/${MODEL}@${ALIAS}`)));
    if (answers.every((a) => a.status === 200 && a.headers['x-model-digest'] === digest)) return;
    if (Date.now() > deadline) throw new Error(`not every node serves ${MODEL}@${ALIAS} = ${digest} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** CPU of one turn weighted by its length, so percentages of merged turns stay percentages. */
function weighted(parts: { seconds: number }[], pick: (index: number) => number): number {
  const seconds = parts.reduce((s, p) => s + p.seconds, 0);
  return seconds > 0 ? parts.reduce((s, p, i) => s + pick(i) * p.seconds, 0) / seconds : 0;
}

function mergeServerCpu(parts: { seconds: number; serverCpuPercent: Record<string, number> }[]): Record<string, number> {
  const keys = new Set(parts.flatMap((p) => Object.keys(p.serverCpuPercent)));
  return Object.fromEntries([...keys].map((k) => [k, weighted(parts, (i) => parts[i]!.serverCpuPercent[k] ?? 0)]));
}

/** The turns' rounds as one run (round numbers continue across turns; rounds join traces by seq). */
/** The turns' rounds in one list, numbered on from turn to turn. */
function joinRounds<R extends { round: number }>(parts: { rounds: R[] }[]): R[] {
  let offset = 0;
  return parts.flatMap((p) => {
    const shifted = p.rounds.map((r) => ({ ...r, round: r.round + offset }));
    offset += p.rounds.length;
    return shifted;
  });
}

function mergePropagation(parts: PropagationReport[]): PropagationReport {
  return {
    rounds: joinRounds(parts),
    seconds: parts.reduce((s, p) => s + p.seconds, 0),
    loadCpuPercent: weighted(parts, (i) => parts[i]!.loadCpuPercent),
    resolveRequests: parts.reduce((s, p) => s + p.resolveRequests, 0),
    serverCpuPercent: mergeServerCpu(parts),
  };
}

function mergeFanout(parts: FanoutReport[]): FanoutReport {
  return {
    rounds: joinRounds(parts),
    seconds: parts.reduce((s, p) => s + p.seconds, 0),
    loadCpuPercent: weighted(parts, (i) => parts[i]!.loadCpuPercent),
    subscriberCpuPercent: weighted(parts, (i) => parts[i]!.subscriberCpuPercent),
    subscriberPids: parts.flatMap((p) => p.subscriberPids),
    serverCpuPercent: mergeServerCpu(parts),
  };
}

/** The nodes' CPU per round (ms of CPU, all nodes together), from their share of a core over the measured rounds. */
function nodesCpuMsPerRound(mg: PropagationReport): number {
  const percent = Object.entries(mg.serverCpuPercent)
    .filter(([k]) => k.startsWith('node'))
    .reduce((s, [, v]) => s + v, 0);
  return (percent / 100) * ((mg.seconds * 1000) / mg.rounds.length);
}

function subscribersCpuMsPerRound(f: FanoutReport): number {
  return (f.subscriberCpuPercent / 100) * ((f.seconds * 1000) / f.rounds.length);
}

/** One turn of each, in the order they ran. */
interface Turn {
  first: 'floor' | 'modelgate';
  floor: FanoutReport;
  mg: PropagationReport;
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function turnsText(turns: Turn[]): string {
  const p99 = (values: number[]) => fmt(summarize(values).p99);
  return turns
    .map((t, i) => {
      const mg = `modelgate p99 ${p99(t.mg.rounds.map((r) => r.allFrom200Ms))} (nodes ${fmt(nodesCpuMsPerRound(t.mg))} ms CPU a round)`;
      const floor = `floor p99 ${p99(t.floor.rounds.map((r) => r.allMs))} (subscribers ${fmt(subscribersCpuMsPerRound(t.floor))} ms CPU a round)`;
      return `turn ${i + 1}: ${t.first === 'floor' ? `${floor}, then ${mg}` : `${mg}, then ${floor}`}`;
    })
    .join('; ');
}

function rows(
  mg: PropagationReport,
  base: FanoutReport,
  written: FanoutReport,
  served: FanoutReport,
  applied: ApplyBounds | null,
  nodePids: number[],
  traced: TraceReport | null,
  turns: Turn[],
): Comparison[] {
  const from200 = summarize(mg.rounds.map((r) => r.allFrom200Ms));
  const fromSend = summarize(mg.rounds.map((r) => r.allFromSendMs));
  const api = summarize(mg.rounds.map((r) => r.apiMs));
  const perNode = summarize(mg.rounds.flatMap((r) => r.nodeFrom200Ms));
  const notices = mg.rounds.flatMap((r) => r.nodeNoticeMs).filter((t): t is number => t !== null);
  const fanout = summarize(base.rounds.map((r) => r.allMs));
  const fanoutWritten = summarize(written.rounds.map((r) => r.allMs));
  const fanoutServed = summarize(served.rounds.map((r) => r.allMs));
  // Each node's lag after the 200, split at its watch notice: replication, replica write and the
  // WebSocket message (notice after the 200; 0 when it came first), then the detector's resolve
  // request and its answer. A stage that owns the tail shows here; scheduling stretches both.
  const split = mg.rounds.flatMap((r) =>
    r.nodeNoticeMs.flatMap((notice, i) => {
      if (notice === null) return [];
      const before = Math.max(0, notice - r.apiMs);
      return [{ before, after: r.nodeFrom200Ms[i]! - before }];
    }),
  );
  const noticeAfter200 = summarize(split.map((x) => x.before));
  const noticeToAnswer = summarize(split.map((x) => x.after));
  const publishReply = summarize(base.rounds.map((r) => r.publishReplyMs));
  const stale = mg.rounds.reduce((s, r) => s + r.staleAnswers, 0);
  const fallbacks = mg.rounds.reduce((s, r) => s + r.fallbackPolls, 0);
  const before200 = mg.rounds.filter((r) => r.allFrom200Ms <= 0).length;
  const nodesCpu = Object.entries(mg.serverCpuPercent)
    .filter(([k]) => k.startsWith('node'))
    .reduce((s, [, v]) => s + v, 0);

  const mgDetail = {
    rounds: mg.rounds.length,
    seconds: mg.seconds,
    allFrom200Ms: from200,
    allFromSendMs: fromSend,
    apiMs: api,
    perNodeFrom200Ms: perNode,
    noticeFromSendMs: summarize(notices),
    noticeAfter200Ms: noticeAfter200,
    replicaApply: applied,
    noticeToAnswerMs: noticeToAnswer,
    roundsConvergedBefore200: before200,
    staleAnswers: stale,
    fallbackPolls: fallbacks,
    resolveRequests: mg.resolveRequests,
    serverCpuPercent: mg.serverCpuPercent,
    nodePids,
    ...(traced ? { trace: traced } : {}),
    perRound: mg.rounds,
  };
  const baseDetail = {
    rounds: base.rounds.length,
    seconds: base.seconds,
    allMs: fanout,
    publishReplyMs: publishReply,
    subscriberCpuPercent: base.subscriberCpuPercent,
    serverCpuPercent: base.serverCpuPercent,
    perRound: base.rounds,
  };
  const baselineName = `Redis PUBLISH → ${NODES} ioredis subscriber processes`;
  const ratio = (s: number, b: number) => (s > 0 ? b / s : null);
  const cpu = `detector ${Math.round(mg.loadCpuPercent)}%, ${NODES} nodes ${Math.round(nodesCpu)}%, redis ${Math.round(mg.serverCpuPercent.redis ?? 0)}% of a core vs publisher ${Math.round(base.loadCpuPercent)}%, subscribers ${Math.round(base.subscriberCpuPercent)}%, redis ${Math.round(base.serverCpuPercent.redis ?? 0)}%`;
  return [
    {
      name: `propagation: rollback → all ${NODES} nodes, from 200`,
      subject: fig(from200, 'p99', mg.loadCpuPercent, mgDetail),
      baselineName,
      baseline: fig(fanout, 'p99', base.loadCpuPercent, baseDetail),
      ratio: ratio(from200.p99, fanout.p99),
      target: `p99 ≤ ${TARGET_MS} ms`,
      pass: from200.p99 <= TARGET_MS,
      note:
        `${mg.rounds.length} rounds, API call rotating over the ${NODES} nodes; ${summaryText(from200)} from the 200 vs Redis fan-out ${summaryText(fanout)} from PUBLISH; ` +
        `${os.cpus().length} cores shared by ${NODES} node processes, redis-server and the detector; ${cpu}; ` +
        `ratio = baseline / modelgate (1× would be no cost over raw pub/sub)` +
        (fallbacks ? `; ${fallbacks} node-rounds had no watch notice within the fallback and were found by polling` : ''),
    },
    {
      name: `propagation: rollback → all ${NODES} nodes, from 200`,
      subject: fig(from200, 'p99', mg.loadCpuPercent, { allFrom200Ms: from200 }),
      baselineName: `${baselineName}, each committing an LMDB write`,
      baseline: fig(fanoutWritten, 'p99', written.loadCpuPercent, {
        rounds: written.rounds.length,
        allMs: fanoutWritten,
        subscriberCpuPercent: written.subscriberCpuPercent,
        serverCpuPercent: written.serverCpuPercent,
        perRound: written.rounds,
      }),
      ratio: ratio(from200.p99, fanoutWritten.p99),
      target: 'record',
      pass: null,
      note: `the same fan-out, each subscriber committing the message in one LMDB write transaction (its own environment, written as a node writes its replica: no fsync, on the event loop) before it counts: ${summaryText(fanoutWritten)} from PUBLISH; subscribers ${Math.round(written.subscriberCpuPercent)}% of a core. modelgate's figure adds a WebSocket notice and an HTTP resolve per node on top of this floor`,
    },
    {
      name: `propagation: rollback → all ${NODES} nodes, from 200`,
      subject: fig(from200, 'p99', mg.loadCpuPercent, { allFrom200Ms: from200 }),
      baselineName: `${baselineName}, each committing to LMDB, sending a WebSocket notice and answering an HTTP GET`,
      baseline: fig(fanoutServed, 'p99', served.loadCpuPercent, {
        rounds: served.rounds.length,
        allMs: fanoutServed,
        subscriberCpuPercent: served.subscriberCpuPercent,
        subscribersCpuMsPerRound: subscribersCpuMsPerRound(served),
        serverCpuPercent: served.serverCpuPercent,
        turns: turns.map((t) => ({
          first: t.first,
          modelgateP99Ms: summarize(t.mg.rounds.map((r) => r.allFrom200Ms)).p99,
          floorP99Ms: summarize(t.floor.rounds.map((r) => r.allMs)).p99,
          nodesCpuMsPerRound: nodesCpuMsPerRound(t.mg),
          subscribersCpuMsPerRound: subscribersCpuMsPerRound(t.floor),
        })),
        perRound: served.rounds,
      }),
      ratio: ratio(from200.p99, fanoutServed.p99),
      target: 'record',
      pass: null,
      note:
        `the floor of a node's steps: each subscriber commits the message to LMDB as above, publishes it to a WebSocket watcher (uWebSockets.js) and answers GET /round from LMDB; the publisher process holds the 8 WebSockets, asks each subscriber at its notice and counts it at the answer with the new round: ${summaryText(fanoutServed)} from PUBLISH; subscribers ${Math.round(served.subscriberCpuPercent)}%, publisher ${Math.round(served.loadCpuPercent)}% of a core. What modelgate adds beyond this is its own code on the same path (plus a commit through Redis before the 200, which this figure does not start from). ` +
        (FLOOR_BURN_MS > 0
          ? `Each subscriber first spent ${FLOOR_BURN_MS} ms of CPU on every message (BENCH_PROPAGATION_FLOOR_BURN_MS). `
          : '') +
        `Run in ${turns.length} alternating turns with modelgate's rounds, so both saw the same machine: ${turnsText(turns)}; ` +
        `CPU a round over all turns: the ${NODES} nodes ${fmt(nodesCpuMsPerRound(mg))} ms (the writer's commit included) vs the ${NODES} subscribers ${fmt(subscribersCpuMsPerRound(served))} ms, on ${os.cpus().length} cores`,
    },
    {
      name: `propagation: rollback → all ${NODES} nodes, from 200`,
      subject: fig(from200, 'p50', mg.loadCpuPercent, { allFrom200Ms: from200 }),
      baselineName,
      baseline: fig(fanout, 'p50', base.loadCpuPercent, { allMs: fanout }),
      ratio: ratio(from200.p50, fanout.p50),
      target: 'record',
      pass: null,
    },
    {
      name: `propagation: rollback → all ${NODES} nodes, from 200`,
      subject: fig(from200, 'max', mg.loadCpuPercent, { allFrom200Ms: from200 }),
      baselineName,
      baseline: fig(fanout, 'max', base.loadCpuPercent, { allMs: fanout }),
      ratio: ratio(from200.max, fanout.max),
      target: 'record',
      pass: null,
    },
    {
      name: `propagation: rollback → all ${NODES} nodes, from request sent`,
      subject: fig(fromSend, 'p99', mg.loadCpuPercent, { allFromSendMs: fromSend, apiMs: api }),
      baselineName,
      baseline: fig(fanout, 'p99', base.loadCpuPercent, { allMs: fanout }),
      ratio: ratio(fromSend.p99, fanout.p99),
      target: 'record',
      pass: null,
      note:
        `${summaryText(fromSend)} from sending the rollback request; the API call itself (commit through Redis with AOF fsync, then the 200) ${summaryText(api)}; ` +
        `a single node's lag after the 200: ${summaryText(perNode)}, of which until its watch notice ${summaryText(noticeAfter200)} and from the notice to the new digest's resolve answer ${summaryText(noticeToAnswer)}; ${applied ? `each node's replica apply (modelgate_replication_apply_seconds over the ${NODES} nodes, ${applied.count} notices incl. warm-up) p50 ≤ ${applied.p50Ms} / p99 ≤ ${applied.p99Ms} ms (bucket bounds); ` : ''}${stale} resolve answers still carried the old digest after a notice and were asked again; ` +
        `${before200} rounds had every node serving the new digest before the 200 arrived (counted as ≤ 0 ms)` +
        (traced ? `; traced (MODELGATE_TRACE_FILE on every node), per stage over the non-writing nodes: ${traced.stagesText}` : ''),
    },
  ];
}

/** The fresh nodes' first changes beside the same nodes' rounds in the turns. */
function freshRow(fresh: PropagationReport, mg: PropagationReport): Comparison {
  const early = summarize(fresh.rounds.map((r) => r.allFrom200Ms));
  const warm = summarize(mg.rounds.map((r) => r.allFrom200Ms));
  const slowest = [...fresh.rounds]
    .sort((a, b) => b.allFrom200Ms - a.allFrom200Ms)
    .slice(0, 5)
    .map((r) => `${fmt(r.allFrom200Ms)} ms at change ${r.seq}`)
    .join(', ');
  return {
    name: `propagation: rollback → all ${NODES} nodes, from 200, fresh nodes`,
    subject: fig(early, 'p99', fresh.loadCpuPercent, { rounds: fresh.rounds.length, allFrom200Ms: early, perRound: fresh.rounds }),
    baselineName: `the same nodes in the turns (after their first ${fresh.rounds.length} changes)`,
    baseline: fig(warm, 'p99', mg.loadCpuPercent, { allFrom200Ms: warm }),
    ratio: early.p99 > 0 ? warm.p99 / early.p99 : null,
    target: 'record',
    pass: null,
    note: `the nodes' first ${fresh.rounds.length} changes after start-up (and two registrations), measured before the baselines: ${summaryText(early)} from the 200, nodes ${fmt(nodesCpuMsPerRound(fresh))} ms CPU a round; slowest: ${slowest}. V8 compiles the code that runs on each node's own Redis connections and LMDB tables within these changes, on every node at the same change (bench/results/20261207-propagation-gc.md)`,
  };
}

interface TraceReport {
  stages: ReturnType<typeof stageSummaries>;
  stagesText: string;
  slowest: string[];
}

/** Reads the nodes' trace files (written when they stopped) and joins them with the rounds. */
function traceReport(mg: PropagationReport, files: string[]): TraceReport {
  const rounds = joinTraces(mg.rounds, files.map(readTrace), MODEL);
  const stages = stageSummaries(rounds);
  const stagesText = Object.entries(stages)
    .map(([name, s]) => `${name} ${summaryText(s)}`)
    .join('; ');
  return { stages, stagesText, slowest: slowestRounds(rounds, 5).map(({ round, last }) => timelineText(round, last)) };
}

/** Upper bounds of the p50 and p99 of notice → applied, from the nodes' histograms added up. */
interface ApplyBounds {
  count: number;
  p50Ms: number;
  p99Ms: number;
}

async function replicaApply(apis: Api[]): Promise<ApplyBounds | null> {
  const buckets = new Map<number, number>();
  for (const api of apis) {
    const text = (await api.request('GET', '/metrics')).body.toString('utf8');
    for (const m of text.matchAll(/^modelgate_replication_apply_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)) {
      const le = m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]);
      buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
    }
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const count = sorted.at(-1)?.[1] ?? 0;
  if (count === 0) return null;
  const bound = (q: number) => sorted.find(([, n]) => n >= q * count)![0] * 1000;
  return { count, p50Ms: bound(0.5), p99Ms: bound(0.99) };
}

async function run(ctx: ScenarioContext): Promise<Comparison[]> {
  const redis: BenchRedis = await startRedis(ctx.workDir);
  const nodes: RunningService[] = [];
  const apis: Api[] = [];
  try {
    const token = `mg_bench_${randomBytes(16).toString('hex')}`;
    const env = {
      MODELGATE_CONTROL_BACKEND: 'redis',
      MODELGATE_REDIS_URL: redis.url,
      MODELGATE_REDIS_PREFIX: `bench-propagation-${process.pid}:`,
    };
    ctx.log(`  redis-server ${redis.version} on port ${redis.port} (AOF, fsync always); starting ${NODES} nodes on it`);
    const traceFiles = Array.from({ length: NODES }, (_, i) => join(ctx.workDir, `propagation-trace-${process.pid}-n${i}.jsonl`));
    const started = await Promise.allSettled(
      Array.from({ length: NODES }, (_, i) =>
        startService({
          workDir: ctx.workDir,
          name: `propagation-n${i}`,
          token,
          env: TRACE ? { ...env, MODELGATE_TRACE_FILE: traceFiles[i]! } : env,
          startTimeoutMs: 60_000,
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    const refused = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (refused) throw refused.reason;
    for (const node of nodes) apis.push(new Api(node.port, node.token));

    const versions = await registerTwoVersions(apis, MODEL, ALIAS);
    await waitForAll(apis, versions[1]!.digest, 5000);

    const servers: Record<string, number> = { redis: redis.pid, ...Object.fromEntries(nodes.map((n, i) => [`node${i}`, n.pid])) };
    const timeoutMs = 5000;
    // Every round moves the alias to the other version; the alias points at versions[1] now.
    let startIndex = 1;
    /** modelgate's rollbacks, from the current startIndex. */
    const rollbacks = (warmupRounds: number, rounds: number): Promise<PropagationReport> =>
      runPropagation(
        {
          ports: nodes.map((n) => n.port),
          token,
          model: MODEL,
          alias: ALIAS,
          versions,
          startIndex,
          warmupRounds,
          rounds,
          gapMs: GAP_MS,
          fallbackMs: 1000,
          timeoutMs,
        },
        servers,
      );
    let fresh: PropagationReport | null = null;
    if (FRESH_ROUNDS > 0) {
      ctx.log(`  modelgate on the fresh nodes: their first ${FRESH_ROUNDS} changes after the two registrations, measured on their own`);
      fresh = await rollbacks(0, FRESH_ROUNDS);
      startIndex = (startIndex + FRESH_ROUNDS) % 2;
      ctx.log(`    from the 200: ${summaryText(summarize(fresh.rounds.map((r) => r.allFrom200Ms)))}`);
    }
    ctx.log(`  Redis fan-out baseline: PUBLISH to ${NODES} subscriber processes, ${ROUNDS} rounds (+${WARMUP} warm-up)`);
    const base = await runFanout(
      {
        redisUrl: redis.url,
        channel: `bench-fanout-${process.pid}`,
        subscribers: NODES,
        warmupRounds: WARMUP,
        rounds: ROUNDS,
        gapMs: GAP_MS,
        timeoutMs,
      },
      servers,
    );
    ctx.log(`    ${summaryText(summarize(base.rounds.map((r) => r.allMs)))}`);
    const lmdbDir = join(ctx.workDir, 'data', `fanout-lmdb-${process.pid}-${Date.now()}`);
    ctx.log(`  the same, each subscriber committing an LMDB write first`);
    let written: FanoutReport;
    try {
      written = await runFanout(
        {
          redisUrl: redis.url,
          channel: `bench-fanout-lmdb-${process.pid}`,
          subscribers: NODES,
          warmupRounds: WARMUP,
          rounds: ROUNDS,
          gapMs: GAP_MS,
          timeoutMs,
          lmdbDir,
        },
        servers,
      );
    } finally {
      rmSync(lmdbDir, { recursive: true, force: true });
    }
    ctx.log(`    ${summaryText(summarize(written.rounds.map((r) => r.allMs)))}`);
    // The floor of a node's steps and modelgate, in alternating turns (floor first, then modelgate
    // first, …): a quiet or busy spell of the machine falls on both, and each turn's pair is comparable.
    const perTurn = Math.ceil(ROUNDS / TURNS);
    ctx.log(
      `  the floor of a node's steps (each subscriber also sends a WebSocket notice and answers an HTTP GET${FLOOR_BURN_MS > 0 ? `, after burning ${FLOOR_BURN_MS} ms of CPU` : ''}) and modelgate (rollback on node r mod ${NODES}, then GET resolve on each node at its watch notice), in ${TURNS} alternating turns of ${perTurn} rounds each (+${WARMUP} warm-up in the first turn, ${TURN_WARMUP} after)`,
    );
    const turns: Turn[] = [];
    for (let t = 0; t < TURNS; t++) {
      const rounds = Math.min(perTurn, ROUNDS - t * perTurn);
      if (rounds <= 0) break;
      const warmupRounds = t === 0 ? WARMUP : TURN_WARMUP;
      const floorTurn = async (): Promise<FanoutReport> => {
        const servedDir = join(ctx.workDir, 'data', `fanout-served-${process.pid}-${Date.now()}`);
        try {
          return await runFanout(
            {
              redisUrl: redis.url,
              channel: `bench-fanout-served-${process.pid}`,
              subscribers: NODES,
              warmupRounds,
              rounds,
              gapMs: GAP_MS,
              timeoutMs,
              lmdbDir: servedDir,
              serve: true,
              burnMs: FLOOR_BURN_MS,
            },
            servers,
          );
        } finally {
          rmSync(servedDir, { recursive: true, force: true });
        }
      };
      const mgTurn = (): Promise<PropagationReport> => rollbacks(warmupRounds, rounds);
      const first = t % 2 === 0 ? 'floor' : 'modelgate';
      let floor: FanoutReport;
      let mgPart: PropagationReport;
      if (first === 'floor') {
        floor = await floorTurn();
        mgPart = await mgTurn();
      } else {
        mgPart = await mgTurn();
        floor = await floorTurn();
      }
      startIndex = (startIndex + warmupRounds + rounds) % 2;
      turns.push({ first, floor, mg: mgPart });
      ctx.log(
        `    turn ${t + 1}: floor ${summaryText(summarize(floor.rounds.map((r) => r.allMs)))}; modelgate from the 200 ${summaryText(summarize(mgPart.rounds.map((r) => r.allFrom200Ms)))}`,
      );
    }
    const served = mergeFanout(turns.map((t) => t.floor));
    const mg = mergePropagation(turns.map((t) => t.mg));
    ctx.log(`    floor, all turns: ${summaryText(summarize(served.rounds.map((r) => r.allMs)))}`);
    ctx.log(`    from the 200: ${summaryText(summarize(mg.rounds.map((r) => r.allFrom200Ms)))}`);
    const applied = await replicaApply(apis);
    if (applied)
      ctx.log(`    replica apply (notice → applied, ${applied.count} notices): p50 ≤ ${applied.p50Ms} / p99 ≤ ${applied.p99Ms} ms`);
    const pids = nodes.map((n) => n.pid);
    let traced: TraceReport | null = null;
    if (TRACE) {
      // A node writes its trace when it exits.
      for (const api of apis.splice(0)) api.close();
      await Promise.all(nodes.splice(0).map((n) => n.stop()));
      traced = traceReport(mg, traceFiles);
      if (process.env.BENCH_KEEP_DATA !== '1') for (const f of traceFiles) rmSync(f, { force: true });
      ctx.log(`    traced stages: ${traced.stagesText}`);
      for (const line of traced.slowest) ctx.log(`    ${line}`);
    }
    return [...rows(mg, base, written, served, applied, pids, traced, turns), ...(fresh ? [freshRow(fresh, mg)] : [])];
  } finally {
    for (const api of apis) api.close();
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
  }
}

export const propagationScenario: Scenario = {
  name: 'propagation',
  description: `rollback propagation: ms from the rollback API's 200 until all ${NODES} nodes (one Redis) serve the new digest on GET /v1/resolve, ${ROUNDS} rounds, vs raw Redis PUBLISH fan-out to ${NODES} subscriber processes (and with an LMDB write in each)`,
  notes:
    'How it is measured: one redis-server (appendonly yes, appendfsync always, as README "Running several nodes" asks) and the nodes on one prefix, each with its own LMDB replica and fs blobs. ' +
    'A detector process holds one /v1/watch WebSocket and one keep-alive connection per node; each round it calls POST …/aliases/production/rollback (toVersion, alternating between two versions) on node r mod N, ' +
    "and on each node's change notice at once asks that node GET /v1/resolve/…@production; a node counts at the first answer whose X-Model-Digest is the new digest (a stale answer is asked again). " +
    'The notice only triggers the check, so the figure is an upper bound on when each node began serving the new digest. A node with no notice within 1 s is polled (reported). ' +
    'The baseline PUBLISHes to as many ioredis subscriber processes and times until the last one has the message (monotonic clock shared by all processes): the pub/sub floor without a replica, a watch or HTTP. ' +
    'A second baseline has each subscriber commit the message to its own LMDB environment first (one write transaction, as a node applies a shipped batch to its replica): the floor with the replica write. ' +
    "A third, the floor of a node's steps, has each subscriber also send the message to a uWebSockets.js WebSocket and answer GET /round from LMDB, and the publisher ask each at its notice; it runs in alternating turns with modelgate's rounds, so both see the same machine, and the note gives each turn's p99 and the CPU a round of the nodes and of the subscribers. " +
    'On this 2-core machine every process shares the same two cores, so the scheduler, not the network, sets much of both figures.',
  run,
};
