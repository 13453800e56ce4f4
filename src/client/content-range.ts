// Parsing a 206's Content-Range, so a response covering other bytes than asked is caught.

export interface ContentRange {
  start: number;
  end: number;
  size: number;
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

/** `bytes a-b/size` with a known size, or null for anything else (including the unsatisfiable form with a star). */
export function parseContentRange(header: string | null): ContentRange | null {
  const m = header === null ? null : CONTENT_RANGE.exec(header.trim());
  if (!m) return null;
  const [start, end, size] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![start, end, size].every(Number.isSafeInteger) || end < start || end >= size) return null;
  return { start, end, size };
}
