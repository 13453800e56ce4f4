// Splitting a blob into pieces, the unit of Range requests, of resume and of the in-order hash,
// choosing the piece size when the user does not, and handing runs of pieces to the connections.

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

/**
 * Hands out runs of consecutive missing pieces, file after file in order, as connections ask for
 * them, so that a connection opened mid-way takes the next run and the run size can follow the
 * connection count of the moment.
 */
export class RunQueue<O> {
  private file = 0;
  private piece = 0;

  constructor(private readonly files: readonly { owner: O; missing: readonly Piece[] }[]) {}

  /** The next run of at most `maxBytes` (one piece at least), or undefined when every piece was handed out. */
  take(maxBytes: number): { owner: O; run: Piece[] } | undefined {
    while (this.file < this.files.length && this.piece >= this.files[this.file]!.missing.length) {
      this.file++;
      this.piece = 0;
    }
    const entry = this.files[this.file];
    if (!entry) return undefined;
    const { missing } = entry;
    const first = missing[this.piece]!;
    let end = this.piece + 1;
    while (end < missing.length && missing[end]!.index === missing[end - 1]!.index + 1 && missing[end]!.end - first.start + 1 <= maxBytes)
      end++;
    const run = missing.slice(this.piece, end);
    this.piece = end;
    return { owner: entry.owner, run };
  }
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
