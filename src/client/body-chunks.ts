// How large the pieces of an upload body are: the chunks of a chunked body, and the steps in
// which the body is read (or handed to sendfile) and paced.
//
// Decimal megabytes, not MiB, on purpose: chunk boundaries then fall off page boundaries. The
// server's ingest can only change how it writes (straight into the file on its event loop, or
// through 1 MiB buffers its threadpool writes while the file is being written back) at a chunk
// boundary when the chunks are large, since each piece uWS hands it ends where a chunk ends. With
// chunks of a whole number of MiB those buffers land at 1 MiB-aligned file positions, and the
// page cache backs each with one 1 MiB folio; at other positions it builds them from small
// folios, as for curl's 65,524-byte chunks. On this project's Firecracker guest (free page
// reporting), after a blob of the same size was deleted, the server spent 2.1-3.5 CPU-s on a 1 GiB
// push in 8 MiB chunks against 1.5-2.3 in 8,000,000-byte chunks (curl -T's 1.4-2.5), and the push
// went from 0.67-0.71x curl -T to 0.72-0.83x (`node dist/bench/run.js push`, 2026-12-07
// 04:12-04:25 UTC; bench/results/20261207T0425Z-push-chunks.md). Clients whose chunks are whole
// MiB still meet the large folios there; the server does not split its writes to avoid them (256 KiB
// pieces were tried, and helped in three A/B runs of four: 20261207T0030Z-push-server.md).

/** Bytes per sendfile(2) call of a body sent from a file: one libuv thread trip and, chunked, one chunk. */
export const SENDFILE_CHUNK_BYTES = 8_000_000;

/** Bytes per read and write of a body read from its source (two such buffers are reused). */
export const READ_CHUNK_BYTES = 4_000_000;
