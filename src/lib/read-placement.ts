/**
 * Where in a buffer to put bytes read from a file, so the kernel's copy out of the page cache runs
 * at full speed. It copies with `rep movsb`, and on this machine's CPUs (AMD EPYC under a
 * hypervisor; 2 MiB preads of a cached file, every 16th offset into the buffer tried in random
 * order) that copy ran at 2.3–2.6 GB/s when the destination sat 16–24 bytes past the source within
 * a 4 KiB page and at 8–15 GB/s at every other offset: each load then seems to depend on the store
 * just before it (4K aliasing). A large buffer from malloc starts 16 bytes into a page (the header
 * of its mapping), so a read at a page-aligned file position, which is every read of a whole file
 * or of an aligned range, hit the slow case: under 32 ranged downloads that copy was half of the
 * server's CPU (perf: `_copy_to_iter` under `pread64`, 52% of samples, where the socket writes'
 * copy was 14%). Reading to about half a page from the source's offset avoids it. Were a buffer not
 * to start 16 bytes into a page (malloc's choice), the distance would be arbitrary, and the slow
 * case about 1 in 100.
 */

/** Bytes a buffer needs beyond the most it reads at once, for the placement. */
export const READ_SLACK = 4096;

const PAGE = 4096;
const MALLOC_HEADER = 16;

/** The offset in a buffer (of READ_SLACK spare bytes) at which to read from file `position`. */
export function readPlacement(position: number): number {
  return (((position % PAGE) + PAGE / 2 - MALLOC_HEADER) % PAGE) & ~63;
}
