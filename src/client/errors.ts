// The three ways a call can fail, so callers can tell "the server said no" from "the network
// broke" from "the server's answer cannot be trusted", and decide what is worth retrying.

/** The server answered with an error status; code and message come from its JSON error body. */
export class ModelgateApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly serverMessage: string,
    readonly details?: unknown,
  ) {
    super(`${serverMessage} (${code}, HTTP ${status})`);
    this.name = 'ModelgateApiError';
  }

  /** Worth trying again: the server may answer differently in a moment. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

/** No HTTP answer at all: connection refused or reset, DNS failure, and the like. */
export class ModelgateConnectionError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach ${url}: ${describeCause(cause)}`, { cause });
    this.name = 'ModelgateConnectionError';
  }
}

/** An answer arrived but breaks the protocol: wrong Content-Range, short body, cut connection. */
export class ModelgateTransferError extends Error {
  constructor(message: string, cause?: unknown) {
    super(cause === undefined ? message : `${message}: ${describeCause(cause)}`, { cause });
    this.name = 'ModelgateTransferError';
  }
}

export function isRetryableClientError(err: unknown): boolean {
  if (err instanceof ModelgateApiError) return err.transient;
  return err instanceof ModelgateConnectionError || err instanceof ModelgateTransferError;
}

/** undici hides the useful part (ECONNREFUSED, "other side closed") in `cause`. */
function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause;
  if (inner instanceof Error) {
    const code = (inner as NodeJS.ErrnoException).code;
    return code ? `${code} (${inner.message})` : inner.message;
  }
  return cause.message;
}
