// The start of every command that reads one model reference: `<command> <name@ref> [options]`.
import type { ModelgateClient } from '../client/index.js';
import { parseCommand } from './args.js';
import { clientFromOptions } from './client-from-options.js';
import { type ModelReference, parseModelReference } from './reference.js';

export interface ReferenceCommand extends ModelReference {
  /** The parsed options (the client options, --json). */
  values: NonNullable<ReturnType<typeof parseCommand>>['values'];
  client: ModelgateClient;
}

/** The reference and a client built from the options; null once --help has printed the usage. */
export function parseReferenceCommand(argv: string[], usage: string): ReferenceCommand | null {
  const parsed = parseCommand(argv, usage, [1, 1]);
  if (!parsed) return null;
  const { values, positionals } = parsed;
  return { values, ...parseModelReference(positionals[0]!), client: clientFromOptions(values) };
}
