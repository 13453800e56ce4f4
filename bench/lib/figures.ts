// Figures from load reports, and the checks that decide whether a load figure can be trusted.
import type { Figure } from '../scenarios/scenario.js';
import type { DownloadReport } from './download.js';
import type { LoadReport } from './load.js';

function loadDetail(report: LoadReport): Record<string, unknown> {
  return {
    p50Ms: report.p50Ms,
    p99Ms: report.p99Ms,
    maxMs: report.maxMs,
    total2xx: report.total2xx,
    non2xx: report.non2xx,
    errors: report.errors,
    timeouts: report.timeouts,
    seconds: report.wallSeconds,
    serverCpuPercent: report.serverCpuPercent,
  };
}

export function requestsFigure(report: LoadReport): Figure {
  return { value: report.requestsPerSecond, unit: 'req/s', loadCpuPercent: report.loadCpuPercent, detail: loadDetail(report) };
}

export function p99Figure(report: LoadReport): Figure {
  return { value: report.p99Ms, unit: 'ms p99', loadCpuPercent: report.loadCpuPercent, detail: loadDetail(report) };
}

/**
 * Requests answered per second of the server's own CPU: the same server's cost per request whether
 * or not the load saturated it.
 */
export function capacityFigure(report: LoadReport): Figure | null {
  if (!report.serverCpuPercent) return null;
  return {
    value: report.requestsPerSecond / (report.serverCpuPercent / 100),
    unit: 'req/CPU-s',
    loadCpuPercent: report.loadCpuPercent,
    detail: { serverCpuPercent: report.serverCpuPercent, requestsPerSecond: report.requestsPerSecond },
  };
}

/** The efficiency figure's value, for picking the median round of an efficiency row (medianBy). */
export const byCapacity = (report: LoadReport): number => capacityFigure(report)?.value ?? 0;

/** Why a load figure cannot be trusted (errors, non-2xx answers), or null when it can. */
export function loadProblem(report: LoadReport): string | null {
  const problems = [
    report.non2xx > 0 ? `${report.non2xx} non-2xx answers` : '',
    report.errors > 0 ? `${report.errors} errors` : '',
    report.timeouts > 0 ? `${report.timeouts} timeouts` : '',
    report.total2xx === 0 ? 'no successful answer' : '',
  ].filter(Boolean);
  return problems.length > 0 ? problems.join(', ') : null;
}

export function throughputFigure(report: DownloadReport): Figure {
  return {
    value: report.gbPerSecond,
    unit: 'GB/s',
    loadCpuPercent: report.loadCpuPercent,
    detail: {
      client: report.client,
      bytes: report.bytes,
      requests: report.requests,
      seconds: report.seconds,
      roundGbPerSecond: report.roundGbPerSecond,
      ...(report.roundLoadCpuPercent ? { roundLoadCpuPercent: report.roundLoadCpuPercent } : {}),
      serverCpuPercent: report.serverCpuPercent,
    },
  };
}
