// Times and durations typed on the command line (--at, --expires, --ttl) and shown in output.
import { USAGE_EXIT_CODE } from './args.js';
import { CliError } from './cli-error.js';

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * An ISO 8601 date or date-time (`2026-01-31`, `2026-01-31T12:00:00Z`, with an offset or without,
 * which is local time), returned as the UTC ISO string the server expects.
 */
export function parseIsoTime(text: string, option: string): string {
  const time = ISO_TIME.test(text.trim()) ? new Date(text.trim()) : null;
  if (!time || Number.isNaN(time.getTime())) {
    throw new CliError(`--${option} must be an ISO 8601 time such as 2026-01-31T12:00:00Z, not "${text}"`, USAGE_EXIT_CODE);
  }
  return time.toISOString();
}

const TTL_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };
/** The server's cap on a token's lifetime. */
export const MAX_TTL_SECONDS = 10 * 365 * 86_400;

/** A lifetime such as `30d`, `12h`, `90m`, `3600s` or a bare number of seconds. */
export function parseTtl(text: string, option: string): number {
  const m = /^([0-9]{1,10})\s*([smhd]?)$/i.exec(text.trim());
  const seconds = m ? Number(m[1]) * TTL_UNITS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_TTL_SECONDS) {
    throw new CliError(
      `--${option} must be a lifetime such as 30d, 12h, 90m, 3600s or a number of seconds (at most 10 years), not "${text}"`,
      USAGE_EXIT_CODE,
    );
  }
  return seconds;
}

/** "3d 4h", "2h 05m", "5m 03s", "12s", "0.4s": two units at most, enough to read at a glance. */
export function formatSpan(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${Math.round(seconds * 10) / 10}s`;
  const total = Math.floor(seconds);
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}
