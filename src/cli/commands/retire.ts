// modelgate retire <name> <version> [--reason r]: take a version out of service for good. No alias
// may point at it again and rollback passes over it; its files stay downloadable by digest, so an
// audit can reproduce what it served.
import { clientOptionsHelp } from '../args.js';
import { parseVersionCommand } from '../reference-command.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate retire <name> <version> [--reason text]

Retires <version> (7 or v7) of model <name> (approver): final. No alias may point at it again,
rollback skips it, retention never deletes it, and its files stay downloadable by digest. A
version an alias still points at cannot be retired: move the alias first.

  --reason text   recorded with the retirement

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseVersionCommand(argv, usage, { reason: { type: 'string' } });
  if (!parsed) return 0;
  const { values, name, version, client } = parsed;
  const retired = await withUserErrors(() => client.retire(name, version, values.reason));
  process.stdout.write(values.json ? `${JSON.stringify(retired)}\n` : `retired ${name}@v${version} (seq ${retired.seq})\n`);
  return 0;
}
