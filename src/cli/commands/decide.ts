// modelgate approve|reject <name> <version> [--comment c]: record a decision on a version. The
// server refuses a decision on one's own version (SEPARATION_OF_DUTIES) and a second decision by
// the same approver (ALREADY_DECIDED); one rejection makes the version rejected for good.
import type { Decision } from '../../client/index.js';
import { clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { checkModelName, parseVersionNumber } from '../reference.js';
import { withUserErrors } from '../user-errors.js';

const usages: Record<Decision, string> = {
  approve: `usage: modelgate approve <name> <version> [--comment text]

Approves <version> (7 or v7) of model <name>, counting towards the approvals a protected alias
requires. The registrant of a version cannot approve it.

  --comment text   recorded with the decision

${clientOptionsHelp}`,
  reject: `usage: modelgate reject <name> <version> [--comment text]

Rejects <version> (7 or v7) of model <name>: it becomes "rejected" for good and can no longer be
promoted to a protected alias. The registrant of a version cannot reject it.

  --comment text   recorded with the decision (say why)

${clientOptionsHelp}`,
};

const PAST: Record<Decision, string> = { approve: 'approved', reject: 'rejected' };

export async function runDecision(decision: Decision, argv: string[]): Promise<number> {
  const usage = usages[decision];
  const parsed = parseCommand(argv, usage, [2, 2], { comment: { type: 'string' } });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const name = checkModelName(positionals[0]!);
  const version = parseVersionNumber(positionals[1]!, 'version');
  const client = clientFromOptions(values);
  const result = await withUserErrors(() => client.decide(name, version, decision, values.comment));
  process.stdout.write(
    values.json
      ? `${JSON.stringify(result)}\n`
      : `${PAST[decision]} ${name}@v${version} as ${result.approver.name} (status ${result.status}; seq ${result.seq})\n`,
  );
  return 0;
}
