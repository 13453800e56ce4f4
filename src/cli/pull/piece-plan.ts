// Splitting a blob into fixed-size pieces, the unit of parallel Range requests and of resume.

export interface Piece {
  index: number;
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive (as in a Range header). */
  end: number;
}

export const DEFAULT_PIECE_SIZE = 16 * 1024 * 1024;

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
