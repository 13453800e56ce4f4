// The time of day (ms since the epoch, as Date.now() gives it) at an instant a hot path has already
// read from performance.now(), so it need not read the clock a second time: in V8, Date.now() is a
// call into the runtime that allocates its result (perf under the resolve bench: 0.5% of the
// server's CPU for the one a resolve's fleet count took).
// performance.timeOrigin + performance.now() keeps pace with the wall clock (NTP slews both alike)
// but does not follow a step of it (settimeofday, an NTP step, a VM resumed), so at most once a
// second, on a read, the two are compared and the offset is taken anew when they differ by more
// than the rounding of each to the millisecond.
import { performance } from 'node:perf_hooks';

/** How often, at most, the derived time is compared with Date.now(). */
const CHECK_MS = 1000;
/** Both sides are floored to the millisecond, so 1 ms apart is agreement. */
const TOLERANCE_MS = 1;

let origin = performance.timeOrigin;
let checkedAt = Number.NEGATIVE_INFINITY;

/** Date.now() at `instant`, a performance.now() reading; to the millisecond, and within a second of a step of the wall clock. */
export function wallTimeAt(instant: number): number {
  if (instant - checkedAt >= CHECK_MS) check();
  return Math.floor(origin + instant);
}

function check(): void {
  const now = performance.now();
  const wall = Date.now();
  checkedAt = now;
  // Date.now() is the wall clock floored: the instant it stands for is half a millisecond later on average.
  if (Math.abs(Math.floor(origin + now) - wall) > TOLERANCE_MS) origin = wall + 0.5 - now;
}
