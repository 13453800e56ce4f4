// The start of every command that reads one model reference: `<command> <name@ref> [options]`.
import type { ModelgateClient } from '../client/index.js';
import { parseCommand } from './args.js';
import { clientFromOptions } from './client-from-options.js';
import { parseIsoTime } from './time.js';
import { type ModelReference, parseModelReference } from './reference.js';

export interface ReferenceCommand extends ModelReference {
  /** The parsed options (the client options, --json). */
  values: NonNullable<ReturnType<typeof parseCommand>>['values'];
  client: ModelgateClient;
  /** `--at TIME` (ISO 8601, normalised to UTC), for commands that take it. */
  at?: string;
}

/** The reference and a client built from the options; null once --help has printed the usage. */
export function parseReferenceCommand(argv: string[], usage: string, options: { at?: boolean } = {}): ReferenceCommand | null {
  const parsed = parseCommand(argv, usage, [1, 1], options.at ? { at: { type: 'string' } } : {});
  if (!parsed) return null;
  const { values, positionals } = parsed;
  const at = (values as { at?: string }).at;
  return {
    values,
    ...parseModelReference(positionals[0]!),
    client: clientFromOptions(values),
    ...(at !== undefined ? { at: parseIsoTime(at, 'at') } : {}),
  };
}
