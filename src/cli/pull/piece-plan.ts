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
 * Connections for a pull: one per 64 MiB still to fetch, at most `max` and never more than
 * there are pieces. On one link a second stream mostly overlaps one stream's request gaps and
 * the server's reads; beyond a few, streams only compete for the same cores.
 */
export function autoConnections(bytes: number, pieces: number, max: number): number {
  return Math.max(1, Math.min(max, pieces, Math.ceil(bytes / (64 * MiB))));
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
