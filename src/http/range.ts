// RFC 9110 byte ranges, single range only.

export type RangeDecision =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' }
  | { kind: 'invalid'; reason: string };

const SPEC = /^bytes[ \t]*=[ \t]*(.*)$/i;
/** `unit=…` with any other RFC 9110 token as the unit. */
const OTHER_UNIT = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]*=/;
const ONE = /^(\d*)[ \t]*-[ \t]*(\d*)$/;

/**
 * Decides what to send for a Range header against a representation of `size` bytes. A header
 * naming several ranges is answered with the whole representation (RFC 9110 lets a server ignore
 * Range; it never answers several ranges with one partial body). A range unit other than
 * `bytes` (`items=1-2`) is ignored, as RFC 9110 §14.2 requires of an origin server: the whole
 * representation, 200. A malformed `bytes` range, or a header that names no unit, is refused.
 */
export function decideRange(header: string, size: number): RangeDecision {
  if (header === '') return { kind: 'full' };
  const trimmed = header.trim();
  const spec = SPEC.exec(trimmed);
  if (!spec) {
    if (OTHER_UNIT.test(trimmed)) return { kind: 'full' };
    return { kind: 'invalid', reason: `malformed range "${header.slice(0, 80)}": expected "bytes=a-b"` };
  }
  const parts = spec[1]!
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) return { kind: 'invalid', reason: 'empty range set' };
  const ranges = parts.map((p) => ONE.exec(p));
  if (ranges.some((m) => !m || (m[1] === '' && m[2] === '')))
    return { kind: 'invalid', reason: `malformed range "${header.slice(0, 80)}"` };
  if (ranges.length > 1) return { kind: 'full' };

  const [, first, last] = ranges[0]!;
  if (first === '') {
    // Suffix range: the last N bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start)) return { kind: 'invalid', reason: 'range start is too large' };
  // An end beyond any real size (even past 2^53) is simply clamped to the last byte.
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return { kind: 'invalid', reason: `range end before start in "${header.slice(0, 80)}"` };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}

/** If-Range: the range applies only when the validator names the current representation. */
export function ifRangeAllows(ifRange: string, etag: string): boolean {
  if (ifRange === '') return true;
  // Only strong entity tags are compared; a date can't prove content identity here, so it fails safe.
  return ifRange.trim() === etag;
}

/** If-None-Match: does the header list `etag` (weak comparison, `*` matches anything)? */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch === '') return false;
  if (ifNoneMatch.trim() === '*') return true;
  const bare = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const candidate of ifNoneMatch.split(',')) {
    const c = candidate.trim();
    if ((c.startsWith('W/') ? c.slice(2) : c) === bare) return true;
  }
  return false;
}
