// Repeating load phases: each subject and its baselines run once a round, BENCH_ROUNDS rounds in
// turns (so a noisy spell of the machine hits each alike), and the median round of each is reported.

/**
 * Three by default: one 10 s phase of each server gave per-CPU figures that moved by a fifth
 * between two phases of the same bare app in one run (bench/results/20261207T054154Z.json).
 */
export const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));

/** Runs every phase once per round, ROUNDS rounds in turnOrder; returns each phase's reports. */
export function alternate<T>(phases: (() => Promise<T>)[]): Promise<T[][]> {
  return inTurns(phases, ROUNDS);
}

/** The report whose key is the median (the lower middle for an even count, so it is a real round). */
export function medianBy<T>(reports: T[], key: (r: T) => number): T {
  const sorted = [...reports].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/**
 * `items` in the order of turn `turn`: each turn starts with the next one. What ran just before (a
 * file written and deleted, another server's page cache, the previous scenario's processes
 * winding down) changes what the next phase pays on these guests, so none always goes first.
 */
export function turnOrder<T>(items: readonly T[], turn: number): T[] {
  return items.map((_, i) => items[(i + turn) % items.length]!);
}

/** Runs each phase once per turn, `turns` times, in turnOrder; returns each phase's reports in its own order. */
export async function inTurns<T>(phases: (() => Promise<T>)[], turns: number): Promise<T[][]> {
  const results: T[][] = phases.map(() => []);
  const indices = phases.map((_, i) => i);
  for (let turn = 0; turn < turns; turn++) {
    for (const i of turnOrder(indices, turn)) results[i]!.push(await phases[i]!());
  }
  return results;
}
