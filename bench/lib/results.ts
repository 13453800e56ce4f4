// The record of a run: JSON for tools (one file per run plus latest.json) and the human-readable
// bench/RESULTS.md, where each scenario's section is replaced only when that scenario ran, so
// `npm run bench -- hash` does not erase the download figures.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Comparison } from '../scenarios/scenario.js';
import { cells, LEGEND, markdownTable } from './format.js';
import type { Machine } from './machine.js';
import { RESULTS_DIR, RESULTS_MD } from './paths.js';

export interface ScenarioRecord {
  name: string;
  description: string;
  notes?: string;
  seconds: number;
  /** CPU used by processes outside the bench meanwhile, percent of one core: high means a noisy run. */
  foreignCpuPercent: number;
  rows: Comparison[];
  error?: string;
}

export interface RunRecord {
  startedAt: string;
  /** os.loadavg() when the run started. */
  loadAverageAtStart: number[];
  finishedAt: string;
  command: string;
  settings: Record<string, string>;
  machine: Machine;
  scenarios: ScenarioRecord[];
}

/** ISO 8601 basic format (20250101T120000Z): sortable, and safe in file names everywhere. */
function basicIso(iso: string): string {
  return `${iso.replace(/[-:]/g, '').slice(0, 15)}Z`;
}

export function writeJson(record: RunRecord): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${basicIso(record.startedAt)}.json`);
  const text = `${JSON.stringify(record, null, 2)}\n`;
  writeFileSync(file, text);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), text);
  return file;
}

const INTRO = `# modelgate benchmark results

Produced by \`npm run bench\` (bench/run.ts). Each row compares modelgate with a baseline measured
in the same run on the same machine; ratios from different runs are never compared, because the
load generator shares the machine's cores with the server. Each section below is rewritten by the
run that last measured that scenario; the full figures (latency percentiles, server CPU, rounds)
are in \`bench/results/<timestamp>.json\` and \`bench/results/latest.json\`.

${LEGEND}
`;

export function machineLine(m: Machine): string {
  const gib = (m.totalMemoryBytes / 2 ** 30).toFixed(1);
  return `${m.cores} × ${m.cpuModel} (${m.hashFlags.join(', ') || 'no sha_ni/avx2'}), ${gib} GiB RAM, ${m.kernel}, Node ${m.node}, uWebSockets.js ${m.uWebSocketsJs}, lmdb ${m.lmdb}, ${m.wrk ?? 'wrk not installed'}, nginx ${m.nginx ?? 'not installed'}`;
}

function section(record: RunRecord, scenario: ScenarioRecord, jsonFile: string): string {
  const when = `${record.startedAt.slice(0, 16).replace('T', ' ')} UTC`;
  const body = scenario.error
    ? `**Failed:** ${scenario.error}`
    : `${markdownTable(scenario.rows.map(cells))}\n${scenario.rows
        .filter((r) => r.note)
        .map((r) => `\n- ${r.name}: ${r.note}`)
        .join('')}`;
  return [
    `<!-- scenario:${scenario.name} -->`,
    `## ${scenario.name}`,
    '',
    scenario.description,
    '',
    `Measured ${when} with \`${record.command}\` (${Math.round(scenario.seconds)} s; other processes used ${Math.round(scenario.foreignCpuPercent)}% of a core meanwhile; results/${jsonFile}) on ${machineLine(record.machine)}.`,
    '',
    body,
    ...(scenario.notes ? ['', scenario.notes] : []),
    `<!-- /scenario:${scenario.name} -->`,
  ].join('\n');
}

export function updateResultsMarkdown(record: RunRecord, jsonPath: string, order: readonly string[]): void {
  let text = existsSync(RESULTS_MD) ? readFileSync(RESULTS_MD, 'utf8') : INTRO;
  const jsonFile = jsonPath.slice(jsonPath.lastIndexOf('/') + 1);
  for (const scenario of record.scenarios) {
    const fresh = section(record, scenario, jsonFile);
    const pattern = new RegExp(`<!-- scenario:${scenario.name} -->[\\s\\S]*?<!-- /scenario:${scenario.name} -->`);
    text = pattern.test(text) ? text.replace(pattern, () => fresh) : `${text.trimEnd()}\n\n${fresh}\n`;
  }
  writeFileSync(RESULTS_MD, sortSections(text, order));
}

/** Keeps sections in the registry's order however they were first appended. */
function sortSections(text: string, order: readonly string[]): string {
  const found = [...text.matchAll(/<!-- scenario:([a-z0-9-]+) -->[\s\S]*?<!-- \/scenario:\1 -->/g)];
  if (found.length === 0) return text;
  const head = text.slice(0, found[0]!.index);
  const rank = (name: string) => (order.indexOf(name) === -1 ? order.length : order.indexOf(name));
  const sorted = found.map((m) => ({ name: m[1]!, body: m[0] })).sort((a, b) => rank(a.name) - rank(b.name));
  const last = found[found.length - 1]!;
  const tail = text.slice(last.index + last[0].length);
  return `${head.trimEnd()}\n\n${sorted.map((s) => s.body).join('\n\n')}\n${tail.trim() ? `\n${tail.trim()}\n` : ''}`;
}
