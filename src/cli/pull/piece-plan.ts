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
