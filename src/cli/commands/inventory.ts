// modelgate inventory [--format csv|json]: every model in the token's scope as the governance
// inventory (owner, aliases and versions, statuses, approvals, card completeness, lineage, last change).
import { CliError } from '../cli-error.js';
import { clientOptionsHelp, parseCommand, USAGE_EXIT_CODE } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { writeWhole } from '../output-file.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate inventory [--format csv|json] [--prefix P] [--out FILE]

Exports every model the token may read: owner, the aliases and the versions they hold with their
status, approvals with approvers and dates, model-card completeness against each protected
alias's policy, a lineage summary (datasets, parents, code) and the last change.

  --format F   csv (one line per model, for a spreadsheet) or json (default json)
  --prefix P   only models whose name starts with P
  --out FILE   write to FILE (whole or not at all) instead of stdout

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0], { format: { type: 'string' }, prefix: { type: 'string' }, out: { type: 'string' } });
  if (!parsed) return 0;
  const { values } = parsed;
  const format = values.format ?? 'json';
  if (format !== 'csv' && format !== 'json') throw new CliError(`--format must be csv or json, not "${format}"`, USAGE_EXIT_CODE);
  const client = clientFromOptions(values);
  const body = await withUserErrors(() => client.inventory(format, values.prefix));
  const text = format === 'json' ? `${JSON.stringify(JSON.parse(body), null, 2)}\n` : body;
  if (values.out === undefined) process.stdout.write(text);
  else {
    await writeWhole(values.out, text);
    process.stderr.write(`wrote the inventory (${format}) to ${values.out}\n`);
  }
  return 0;
}
