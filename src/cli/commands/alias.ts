// modelgate alias set <name@alias> <version>: point an alias at a version, optionally only if it
// currently points where the caller expects (compare-and-set).
import type { SetAliasRequest } from '../../client/index.js';
import { printAliasChange } from '../alias-output.js';
import { clientOptionsHelp, expectPositionals, parseCommand, unknownSubcommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { parseAliasReference, parseVersionNumber } from '../reference.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate alias set <name@alias> <version> [--expect N|none] [--reason text]

Points <alias> of model <name> at <version> (7 or v7).

  --expect N      only if the alias currently points at version N (fails with ALIAS_CONFLICT otherwise)
  --expect none   only if the alias does not exist yet
  --reason text   recorded in the alias history and the audit log

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, Infinity], { expect: { type: 'string' }, reason: { type: 'string' } });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [subcommand, ...rest] = positionals;
  if (subcommand !== 'set') {
    throw unknownSubcommand(subcommand, usage);
  }
  expectPositionals(rest, 2, 2, usage);
  const { name, alias } = parseAliasReference(rest[0]!);
  const request: SetAliasRequest = { version: parseVersionNumber(rest[1]!, 'version') };
  if (values.expect !== undefined)
    request.expectedVersion = values.expect === 'none' ? null : parseVersionNumber(values.expect, '--expect');
  if (values.reason !== undefined) request.reason = values.reason;

  const client = clientFromOptions(values);
  const change = await withUserErrors(() => client.setAlias(name, alias, request));
  printAliasChange(change, values.json);
  return 0;
}
