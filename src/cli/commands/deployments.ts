// modelgate deployments <name>: which version each alias of a model served, from when until when.
import type { DeploymentSpan } from '../../client/index.js';
import { clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { checkModelName } from '../reference.js';
import { renderTable } from '../table.js';
import { formatSpan } from '../time.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate deployments <name>

Shows which version each alias of model <name> served, from when until when ("now" while it
still does) and for how long, in the order the deployments began.

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1]);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const name = checkModelName(positionals[0]!);
  const client = clientFromOptions(values);
  const deployments = await withUserErrors(() => client.deployments(name));
  process.stdout.write(values.json ? `${JSON.stringify({ name, deployments })}\n` : describe(name, deployments));
  return 0;
}

export function describe(name: string, spans: DeploymentSpan[]): string {
  if (spans.length === 0) return `${name} has never been deployed to an alias\n`;
  return renderTable(
    ['ALIAS', 'VERSION', 'FROM', 'UNTIL', 'DURATION'],
    spans.map((s) => [`@${s.alias}`, `v${s.version}`, s.from, s.until ?? 'now', formatSpan(s.seconds)]),
  );
}
