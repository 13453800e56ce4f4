// modelgate approve|reject <name> <version> [--comment c] [--record sha256:…]: record a decision on
// the version's current record. The server refuses a decision on one's own version
// (SEPARATION_OF_DUTIES), a second decision by the same approver on the same record
// (ALREADY_DECIDED), a record other than the one named with --record (RECORD_CHANGED), and any
// decision on a rejected version: one rejection makes it rejected for good.
import type { Decision } from '../../client/index.js';
import { clientOptionsHelp } from '../args.js';
import { parseVersionCommand } from '../reference-command.js';
import { withUserErrors } from '../user-errors.js';

const usages: Record<Decision, string> = {
  approve: `usage: modelgate approve <name> <version> [--comment text] [--record sha256:…]

Approves the current record of <version> (7 or v7) of model <name> (files, metadata, lineage,
metrics, card; \`modelgate show\` prints its record digest), counting towards the approvals a
protected alias requires. An edit of the record voids the approval. The registrant of a version
cannot approve it.

  --comment text       recorded with the decision
  --record sha256:…    the record digest you reviewed: refused if the record has changed since

${clientOptionsHelp}`,
  reject: `usage: modelgate reject <name> <version> [--comment text] [--record sha256:…]

Rejects <version> (7 or v7) of model <name>: it becomes "rejected" for good and can no longer be
promoted to a protected alias. The registrant of a version cannot reject it.

  --comment text       recorded with the decision (say why)
  --record sha256:…    the record digest you reviewed: refused if the record has changed since

${clientOptionsHelp}`,
};

const PAST: Record<Decision, string> = { approve: 'approved', reject: 'rejected' };

export async function runDecision(decision: Decision, argv: string[]): Promise<number> {
  const usage = usages[decision];
  const parsed = parseVersionCommand(argv, usage, { comment: { type: 'string' }, record: { type: 'string' } });
  if (!parsed) return 0;
  const { values, name, version, client } = parsed;
  const result = await withUserErrors(() =>
    client.decide(name, version, decision, { comment: values.comment, recordDigest: values.record }),
  );
  process.stdout.write(
    values.json
      ? `${JSON.stringify(result)}\n`
      : `${PAST[decision]} ${name}@v${version} as ${result.approver.name} (status ${result.status}; seq ${result.seq})\n`,
  );
  return 0;
}
