// modelgate delete <name> <version> --reason r: the CLI side of DELETE …/versions/{n} (admin).
// The server decides what may go: never a version an alias points at, a stack pins, or that ever
// held a protected alias (kept for the record).
import { clientOptionsHelp, USAGE_EXIT_CODE } from '../args.js';
import { CliError } from '../cli-error.js';
import { parseVersionCommand } from '../reference-command.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate delete <name> <version> --reason text

Deletes <version> (7 or v7) of model <name> (admin), audited as version.delete with the reason.
Refused while an alias points at it or a stack pins it (VERSION_IN_USE), and for a version that
ever held a protected alias (VERSION_RETAINED: retire it instead). Its blobs stay until gc finds
them unreferenced.

  --reason text   why (required; recorded in the audit log)

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseVersionCommand(argv, usage, { reason: { type: 'string' } });
  if (!parsed) return 0;
  const { values, name, version, client } = parsed;
  if (!values.reason) throw new CliError(`--reason is required\n\n${usage}`, USAGE_EXIT_CODE);
  const reason = values.reason;
  await withUserErrors(() => client.deleteVersion(name, version, reason));
  process.stdout.write(values.json ? `${JSON.stringify({ name, version, deleted: true })}\n` : `deleted ${name}@v${version}\n`);
  return 0;
}
