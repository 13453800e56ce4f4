// Puts files served by different servers in the same page-cache state before anything is timed.
//
// The kernel (ext4 here, 6.18) caches a file in folios of 4 KiB to 2 MiB, and their sizes follow
// how the pages came in: written in the chunks one writer used, read ahead in the sizes another
// read used. sendfile hands those folios to the socket, and the client copies out of them, so the
// same bytes cost both sides less from large folios. Measured on the AMD guest (2026-12-08
// 01:30 UTC): modelgate's copy of the 1 GiB file, written by its upload, sat 44% in folios of
// 1-2 MiB, nginx's copy, written by `head -c`, 80% in 4 KiB pages; after both were dropped and
// read back the same way, both sat 97% in 2 MiB folios and 32 ranged streams of either took
// 2.6-2.8 s per 6 GiB instead of 2.8-3.4 s. A comparison of two servers is only one of servers
// when their files start alike.
import { spawnSync } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, readSync } from 'node:fs';

const READ_BYTES = 8 * 1024 * 1024;

/**
 * Writes each file's dirty pages back, drops its cached pages (GNU dd's `iflag=nocache
 * count=0`: posix_fadvise DONTNEED on the whole file) and reads it once from start to end, so
 * that the kernel's readahead, not the file's history, decides its folios. Returns what was done,
 * for the scenario's log; throws where dd cannot drop them.
 */
export function recache(paths: readonly string[]): string {
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  for (const path of paths) {
    const fd = openSync(path, 'r');
    try {
      fdatasyncSync(fd);
      const dropped = spawnSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
      if (dropped.status !== 0)
        throw new Error(`dd could not drop ${path} from the page cache: ${dropped.stderr || dropped.error?.message}`);
      let position = 0;
      for (;;) {
        const got = readSync(fd, buffer, 0, READ_BYTES, position);
        if (got === 0) break;
        position += got;
      }
    } finally {
      closeSync(fd);
    }
  }
  return `${paths.length} files dropped from the page cache and read back, each in ${READ_BYTES / 1024 / 1024} MiB reads`;
}
