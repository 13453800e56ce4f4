// Turns client and file-system failures into CliErrors: the person at the terminal gets the
// server's message and code (and what is wrong in detail), or the failing system call, not a
// stack trace. Anything else is a bug and keeps its stack.
import { ModelgateApiError, ModelgateConnectionError, ModelgateTransferError } from '../client/index.js';
import { CliError } from './cli-error.js';

const MAX_DETAIL_LINES = 20;

export async function withUserErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw asCliError(err);
  }
}

export function asCliError(err: unknown): unknown {
  if (err instanceof ModelgateApiError) return new CliError(`${err.message}${describeDetails(err.details)}`);
  if (err instanceof ModelgateConnectionError || err instanceof ModelgateTransferError) return new CliError(err.message);
  // Node's system errors name the call and path ("ENOSPC: no space left on device, write").
  if (err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string') return new CliError(err.message);
  return err;
}

/** Details are listed one per line (e.g. FILES_INVALID's missing blobs), capped to stay readable. */
function describeDetails(details: unknown): string {
  if (details === undefined || details === null) return '';
  const items = Array.isArray(details) ? details : [details];
  const lines = items.slice(0, MAX_DETAIL_LINES).map((item) => `  ${typeof item === 'string' ? item : JSON.stringify(item)}`);
  if (items.length > MAX_DETAIL_LINES) lines.push(`  … and ${items.length - MAX_DETAIL_LINES} more`);
  return `\n${lines.join('\n')}`;
}
