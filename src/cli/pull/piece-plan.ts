// Splitting a blob into pieces, the unit of Range requests, of resume and of the in-order hash,
// and choosing the piece size and the number of connections when the user does not.

export interface Piece {
  index: number;
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive (as in a Range header). */
  end: number;
}

const MiB = 1024 * 1024;

/**
 * About 64 pieces per file, between 1 and 16 MiB: large enough that a request's round trip is
 * noise next to its transfer, small enough that a resume loses little and that the hash, which
 * waits for the pieces before it, trails the last byte by a few pieces at most.
 */
export function autoPieceSize(size: number): number {
  return Math.min(16 * MiB, Math.max(MiB, Math.ceil(size / 64 / MiB) * MiB));
}

/**
 * Connections for a pull: one per GiB still to fetch, and one per 8 files (small files are
 * bound by round trips, not bytes), at most `max` and never more than there are pieces. Measured
 * on loopback with two shared cores, one stream beat four on a 1 GiB file (every extra stream
 * costs CPU that the hash and the server need); a slow or distant link is where more help, and
 * --max-connections is the knob for it.
 */
export function autoConnections(bytes: number, pieces: number, files: number, max: number): number {
  const wanted = Math.max(Math.ceil(bytes / (1024 * MiB)), Math.ceil(files / 8));
  return Math.max(1, Math.min(max, pieces, wanted));
}

/**
 * The most bytes one Range request asks for. A request covers a run of consecutive pieces of one
 * file (each piece still done, resumed and hashed on its own), so the pause between requests (a
 * round trip, the server opening the blob, the pipe draining and filling again) is paid a few
 * times per connection instead of once per piece: on two loaded cores a 1 GiB pull took 3.2 s in
 * 64 MiB requests against 4.8 s in 16 MiB ones. With one connection every byte arrives in order and
 * is hashed from the receive ring, so runs go up to 256 MiB. With several, a run that lands ahead
 * of the hashed prefix is read back once the gap before it closes, and the last one is hashed
 * only after its last byte arrived, so runs stay at 32 MiB to keep that tail short.
 */
export function maxRunBytes(bytes: number, connections: number): number {
  const cap = connections === 1 ? 256 * MiB : 32 * MiB;
  // About four runs per connection, so that every connection stays busy until the end.
  return Math.min(cap, Math.ceil(bytes / (4 * connections)));
}

/** Groups pieces (in file order) into runs of consecutive pieces of at most `maxBytes`, one piece at least. */
export function planRuns(pieces: readonly Piece[], maxBytes: number): Piece[][] {
  const runs: Piece[][] = [];
  let run: Piece[] = [];
  for (const piece of pieces) {
    const first = run[0];
    const last = run[run.length - 1];
    if (first && last && (piece.index !== last.index + 1 || piece.end - first.start + 1 > maxBytes)) {
      runs.push(run);
      run = [];
    }
    run.push(piece);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

/** Pieces covering bytes 0..size-1 in order, all `pieceSize` long except possibly the last; none for an empty blob. */
export function planPieces(size: number, pieceSize: number): Piece[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid blob size ${size}`);
  if (!Number.isSafeInteger(pieceSize) || pieceSize < 1) throw new RangeError(`invalid piece size ${pieceSize}`);
  const pieces: Piece[] = [];
  for (let start = 0, index = 0; start < size; start += pieceSize, index++) {
    pieces.push({ index, start, end: Math.min(start + pieceSize, size) - 1 });
  }
  return pieces;
}

export function pieceLength(piece: Piece): number {
  return piece.end - piece.start + 1;
}
