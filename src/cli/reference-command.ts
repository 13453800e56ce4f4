// The start of every command that reads one model reference, `<command> <name@ref> [options]`,
// and of every command that acts on one version, `<command> <name> <version> [options]`.
import type { ModelgateClient } from '../client/index.js';
import { type OptionsConfig, type ParsedCommand, parseCommand } from './args.js';
import { clientFromOptions } from './client-from-options.js';
import { parseIsoTime } from './time.js';
import { checkModelName, type ModelReference, parseModelReference, parseVersionNumber } from './reference.js';

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

export interface VersionCommand<O extends OptionsConfig> {
  values: ParsedCommand<O>['values'];
  name: string;
  version: number;
  client: ModelgateClient;
}

/** `<name> <version>` (7 or v7) with the command's own `options`; null once --help has printed the usage. */
export function parseVersionCommand<O extends OptionsConfig>(argv: string[], usage: string, options: O): VersionCommand<O> | null {
  const parsed = parseCommand(argv, usage, [2, 2], options);
  if (!parsed) return null;
  const { values, positionals } = parsed;
  return {
    values,
    name: checkModelName(positionals[0]!),
    version: parseVersionNumber(positionals[1]!, 'version'),
    client: clientFromOptions(values),
  };
}
