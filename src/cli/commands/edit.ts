// modelgate edit <name> <version> [--metadata FILE] [--deprecate]: the CLI side of PATCH
// …/versions/{n}. The record file is read and checked exactly as push --metadata reads it, and
// the server applies its own rules (approvals of the old record void, a protected alias's policy).
import { CliError } from '../cli-error.js';
import { clientOptionsHelp, USAGE_EXIT_CODE } from '../args.js';
import { parseVersionCommand } from '../reference-command.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate edit <name> <version> [--metadata FILE] [--deprecate]

Edits the record of <version> (7 or v7) of model <name> (writer). Each of metadata, lineage,
metrics and card the file holds replaces the stored one; the files never change. The approvals of
the old record are void until an approver approves the new one; a version serving on a protected
alias keeps serving, with a warning, unless the edit would break that alias's policy (refused).

  --metadata FILE   JSON or YAML with any of metadata, lineage, metrics, card (as push --metadata)
  --deprecate       mark the version deprecated (refused while it holds a protected alias)

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseVersionCommand(argv, usage, { metadata: { type: 'string' }, deprecate: { type: 'boolean' } });
  if (!parsed) return 0;
  const { values, name, version, client } = parsed;
  if (values.metadata === undefined && !values.deprecate)
    throw new CliError(`nothing to edit: give --metadata FILE or --deprecate\n\n${usage}`, USAGE_EXIT_CODE);
  // The record reader brings YAML and the request schemas: loaded only when asked for.
  const record = values.metadata === undefined ? {} : await (await import('../push/metadata-file.js')).readMetadataFile(values.metadata);
  if (values.metadata !== undefined && Object.keys(record).length === 0) {
    throw new CliError(`metadata file ${values.metadata} holds none of metadata, lineage, metrics, card: nothing to edit`);
  }
  const patch = { ...record, ...(values.deprecate ? { status: 'deprecated' as const } : {}) };
  await withUserErrors(() => client.updateVersion(name, version, patch));
  const view = await withUserErrors(() => client.getVersion(name, version));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(view)}\n`);
    return 0;
  }
  process.stdout.write(`${name}@v${version} record ${view.recordDigest} (${view.status})\n`);
  if (view.servingUnapproved) {
    const on = view.servingUnapproved.aliases.map((a) => `@${a}`).join(', ');
    process.stderr.write(`WARNING serving on ${on} on a record not yet re-approved since ${view.servingUnapproved.since}\n`);
  }
  return 0;
}
