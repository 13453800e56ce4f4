// The uniform shape every scenario module exports, and the rows it hands back to the report.
// A row compares modelgate's figure with a baseline measured in the same run: figures from
// different runs are never compared, because the load generator shares the machine's cores.

/** One measured figure and the CPU its load generator (or, for pure computations, the work itself) used. */
export interface Figure {
  value: number;
  unit: string;
  /** Load generator CPU while this figure was taken, in percent of one core; null when not measured. */
  loadCpuPercent: number | null;
  /** Anything else worth keeping in the JSON (latency percentiles, server CPU, bytes, rounds). */
  detail?: Record<string, unknown>;
}

export interface Comparison {
  /** Row label, starting with the scenario name. */
  name: string;
  /** modelgate's figure (or, for `hash`, the hasher under study); null when it could not be measured. */
  subject: Figure | null;
  /** What the subject is compared with, e.g. "bare uWS", "nginx sendfile". */
  baselineName: string;
  baseline: Figure | null;
  /** subject / baseline, oriented so that higher means modelgate does better; null when not comparable. */
  ratio: number | null;
  /** The target in words, e.g. "≥ 0.8×, p99 ≤ 2 ms". */
  target: string;
  /** true: met; false: short; null: cannot be judged (baseline missing, informational row). */
  pass: boolean | null;
  /** Why a figure is missing, or how it was taken. */
  note?: string;
}

export interface ScenarioContext {
  /** Seconds for each timed load phase (env BENCH_DURATION, default 10). */
  durationSeconds: number;
  /** bench/.work: large generated inputs, nginx configs, service data directories. */
  workDir: string;
  log(message: string): void;
}

export interface Scenario {
  name: string;
  /** One line for `npm run bench -- --list`. */
  description: string;
  /** Standing explanation printed under the scenario's table in RESULTS.md. */
  notes?: string;
  run(ctx: ScenarioContext): Promise<Comparison[]>;
}

/** Ratio helper: null when either side is missing or the baseline is zero. */
export function ratioOf(subject: Figure | null, baseline: Figure | null): number | null {
  if (!subject || !baseline || baseline.value === 0) return null;
  return subject.value / baseline.value;
}
