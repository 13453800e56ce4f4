// One GET of a whole file or a byte range, bytes discarded and counted, by some client.

export interface FetchTarget {
  port: number;
  path: string;
  headers: Record<string, string>;
  /** Size of the whole file: every answer's length is checked against what was asked. */
  size: number;
}

export interface Fetcher {
  /** How this client reads, printed with the figures. */
  description: string;
  /** Resolves once the whole body has arrived, after checking status and length. */
  fetch(target: FetchTarget, range: [number, number] | null): Promise<Fetched>;
  close(): void;
}

export interface Fetched {
  bytes: number;
  /** From sending the request to the last byte, as the client itself timed it (no process start-up). */
  seconds: number;
}

export function expectedLength(target: FetchTarget, range: [number, number] | null): number {
  return range ? range[1] - range[0] + 1 : target.size;
}
