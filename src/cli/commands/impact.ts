// modelgate impact <blob digest | name@ref | dataset digest or URI>: every version, stack and alias
// that includes it, transitively, with the aliases that hold them now and since when. The answer
// to "the base model has a vulnerability: which production stacks include it?".
import type { ImpactReport } from '../../client/index.js';
import { clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { renderTable } from '../table.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate impact <target>

<target> is a blob digest (sha256:<64 hex>: versions listing it as a file, or trained on a dataset
with that digest), a version reference (name@alias, name@v<N>, name@sha256:…), or a dataset URI.
Lists every version that includes it, directly or through stacks and fine-tunes, transitively,
and every alias that holds one of them now: what an incident must roll back.

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1], {});
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const client = clientFromOptions(values);
  const report = await withUserErrors(() => client.impact(positionals[0]!));
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : describe(report));
  return 0;
}

export function describe(r: ImpactReport): string {
  if (r.versions.length === 0) return `nothing registered includes ${r.target}\n`;
  const how = (v: ImpactReport['versions'][number]) => {
    if (v.relation === 'file') return `lists it as ${v.paths?.join(', ') ?? 'a manifest blob'}`;
    if (v.relation === 'dataset') return 'trained on it';
    if (v.relation === 'self') return 'is it';
    const via = `${v.via!.name}@v${v.via!.version}`;
    return v.relation === 'component' ? `component "${v.via!.component}" is ${via}` : `fine-tuned from ${via}`;
  };
  const rows = r.versions.map((v) => [
    `${v.name}@v${v.version}`,
    v.isStack ? 'stack' : 'version',
    v.status,
    how(v),
    v.aliases.map((a) => `@${a.alias}`).join(' '),
  ]);
  let out = renderTable(['VERSION', 'KIND', 'STATUS', 'HOW', 'ALIASES'], rows);
  if (r.aliases.length === 0) out += 'no alias holds any of them\n';
  else {
    out += `\naliases holding them now (${r.aliases.length}):\n`;
    out += renderTable(
      ['ALIAS', 'VERSION', 'SINCE', 'SEQ'],
      r.aliases.map((a) => [`${a.name}@${a.alias}`, `v${a.version}`, a.since, String(a.seq)]),
    );
  }
  return out;
}
