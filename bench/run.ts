// `npm run bench [-- <scenario> ...]`: runs the named scenarios (all by default), prints one table
// comparing modelgate with baselines measured in the same run, and records the run in
// bench/results/ and bench/RESULTS.md.
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { cells, LEGEND, textTable } from './lib/format.js';
import { ForeignCpuMeter } from './lib/foreign-cpu.js';
import { describeMachine } from './lib/machine.js';
import { WORK_DIR, RESULTS_MD } from './lib/paths.js';
import { updateResultsMarkdown, writeJson, type RunRecord, type ScenarioRecord } from './lib/results.js';
import { scenarios } from './scenarios/index.js';
import type { ScenarioContext } from './scenarios/scenario.js';

/** Neighbours' CPU (percent of one core) above which a scenario's figures are flagged as noisy. */
const NOISY_PERCENT = 10;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** The command as typed, with the BENCH_* settings in effect, so the run can be repeated exactly. */
function commandLine(args: string[], settings: Record<string, string>): string {
  const quote = (v: string) => (/^[\w./:=@+-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  const env = Object.entries(settings).map(([k, v]) => `${k}=${quote(v)}`);
  const viaNpm = process.env.npm_lifecycle_event === 'bench';
  const base = viaNpm ? ['npm', 'run', 'bench', ...(args.length ? ['--', ...args] : [])] : ['node', 'dist/bench/run.js', ...args];
  return [...env, ...base].join(' ');
}

function benchSettings(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env)
      .filter(([k, v]) => k.startsWith('BENCH_') && v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)) as [string, string][],
  );
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--list') || args.includes('--help')) {
    for (const s of scenarios) process.stdout.write(`${s.name.padEnd(10)} ${s.description}\n`);
    return 0;
  }
  const unknown = args.filter((a) => !scenarios.some((s) => s.name === a));
  if (unknown.length > 0) {
    log(`unknown scenario: ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
    return 2;
  }
  const selected = args.length === 0 ? scenarios : scenarios.filter((s) => args.includes(s.name));

  mkdirSync(WORK_DIR, { recursive: true });
  const settings = benchSettings();
  const ctx: ScenarioContext = {
    durationSeconds: Number(process.env.BENCH_DURATION ?? 10),
    workDir: WORK_DIR,
    log,
  };
  const machine = describeMachine();
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = os.loadavg();
  if (loadAverageAtStart[0]! > 0.5) log(`warning: load average ${loadAverageAtStart[0]!.toFixed(2)} at start; the machine is not idle`);
  const records: ScenarioRecord[] = [];
  for (const scenario of selected) {
    log(`== ${scenario.name}: ${scenario.description}`);
    const start = Date.now();
    const foreign = new ForeignCpuMeter();
    const record: ScenarioRecord = { name: scenario.name, description: scenario.description, seconds: 0, foreignCpuPercent: 0, rows: [] };
    if (scenario.notes) record.notes = scenario.notes;
    try {
      record.rows = await scenario.run(ctx);
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      log(`   ${scenario.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    record.seconds = (Date.now() - start) / 1000;
    record.foreignCpuPercent = foreign.percent();
    if (record.foreignCpuPercent > NOISY_PERCENT) {
      log(
        `   warning: other processes used ${Math.round(record.foreignCpuPercent)}% of a core during ${scenario.name}; its figures are noisy`,
      );
    }
    records.push(record);
  }

  const run: RunRecord = {
    startedAt,
    loadAverageAtStart,
    finishedAt: new Date().toISOString(),
    command: commandLine(args, settings),
    settings,
    machine,
    scenarios: records,
  };
  const rows = records.flatMap((r) => (r.error ? [[`${r.name}: FAILED: ${r.error.split('\n')[0]}`]] : r.rows.map(cells)));
  process.stdout.write(`\n${textTable(rows)}\n\n${LEGEND}\n`);
  for (const r of records) for (const row of r.rows) if (row.note) process.stdout.write(`- ${row.name}: ${row.note}\n`);
  process.stdout.write(
    `other processes' CPU meanwhile: ${records.map((r) => `${r.name} ${Math.round(r.foreignCpuPercent)}%`).join(', ')} of a core\n`,
  );
  const jsonPath = writeJson(run);
  // A profiled service runs slower than a real one: keep its JSON, but not as the published figures.
  const profiled = Boolean(process.env.BENCH_SERVICE_NODE_ARGS);
  if (!profiled)
    updateResultsMarkdown(
      run,
      jsonPath,
      scenarios.map((s) => s.name),
    );
  process.stdout.write(
    `\ncommand: ${run.command}\nwrote ${jsonPath}, bench/results/latest.json${profiled ? ' (BENCH_SERVICE_NODE_ARGS set: RESULTS.md left as it was)' : ` and ${RESULTS_MD}`}\n`,
  );
  return records.some((r) => r.error) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Piscina threads or keep-alive sockets must not hold the process open once the report is out.
    process.exit(code);
  },
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
