// modelgate rollback <name@alias>: move an alias back to the version it pointed at before (or to
// --to N) in one call; the server records it in the alias history.
import type { RollbackRequest } from '../../client/index.js';
import { printAliasChange } from '../alias-output.js';
import { clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { parseAliasReference, parseVersionNumber } from '../reference.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate rollback <name@alias> [--to N] [--reason text]

Moves <alias> back to the version it pointed at before its last change.

  --to N          roll back to version N instead
  --reason text   recorded in the alias history and the audit log

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1], { to: { type: 'string' }, reason: { type: 'string' } });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const { name, alias } = parseAliasReference(positionals[0]!);
  const request: RollbackRequest = {};
  if (values.to !== undefined) request.toVersion = parseVersionNumber(values.to, '--to');
  if (values.reason !== undefined) request.reason = values.reason;

  const client = clientFromOptions(values);
  const change = await withUserErrors(() => client.rollback(name, alias, request));
  printAliasChange(change, values.json);
  return 0;
}
