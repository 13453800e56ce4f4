// Turns comparisons into table cells, and cells into a terminal table or a Markdown table.
import type { Comparison, Figure } from '../scenarios/scenario.js';

export const HEADER = ['scenario', 'modelgate', 'load CPU', 'baseline', 'baseline figure', 'load CPU', 'ratio', 'target', 'result'];

function number(value: number): string {
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function figureText(figure: Figure | null): string {
  return figure ? `${number(figure.value)} ${figure.unit}` : 'missing';
}

function cpuText(figure: Figure | null): string {
  return figure?.loadCpuPercent == null ? '—' : `${Math.round(figure.loadCpuPercent)}%`;
}

function resultText(pass: boolean | null): string {
  return pass === null ? 'n/a' : pass ? 'pass' : 'short';
}

export function cells(row: Comparison): string[] {
  return [
    row.name,
    figureText(row.subject),
    cpuText(row.subject),
    row.baselineName,
    figureText(row.baseline),
    cpuText(row.baseline),
    row.ratio === null ? '—' : `${row.ratio.toFixed(2)}×`,
    row.target,
    resultText(row.pass),
  ];
}

export function textTable(rows: string[][]): string {
  const all = [HEADER, ...rows];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function markdownTable(rows: string[][]): string {
  const escapeCell = (c: string) => c.replace(/\|/g, '\\|');
  const line = (r: string[]) => `| ${r.map(escapeCell).join(' | ')} |`;
  return [line(HEADER), `| ${HEADER.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

export const LEGEND =
  'load CPU: CPU of the load generator (wrk or the download client, each in its own process) over the measured phase, in % of one core; ' +
  'for `hash`, the CPU of the hashing process (all threads). Ratios compare figures from the same run only.';
