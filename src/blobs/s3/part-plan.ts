// Sizes of multipart-upload parts. S3 allows at most 10,000 parts and needs every part but the
// last to be at least 5 MiB. Parts start at the configured size (small enough that a writer holds
// little memory) and double every 1,000 parts, so the 10,000-part limit sits past S3's 5 TiB
// object limit rather than at 10,000 × the base size.

export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;
const PARTS_PER_STEP = 1_000;

/** Size of part `n` (1-based). */
export function partSize(base: number, n: number): number {
  if (n < 1 || n > MAX_PARTS) throw new Error(`part number ${n} is outside 1..${MAX_PARTS}`);
  return base * 2 ** Math.floor((n - 1) / PARTS_PER_STEP);
}
