// modelgate history <name@alias> [--at TIME]: the alias timeline (every move, who, why), or the
// version the alias pointed at, at a given moment.
import type { AliasAtTime, AliasEvent } from '../../client/index.js';
import { clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { parseAliasReference } from '../reference.js';
import { renderTable } from '../table.js';
import { parseIsoTime } from '../time.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate history <name@alias> [--at TIME]

Shows every change of <alias>, oldest first: sequence number, time, action, from → to, who and
why.

  --at TIME   instead, the version the alias pointed at, at TIME (ISO 8601, e.g.
              2026-01-31T12:00:00Z; a time without a zone is local)

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 1], { at: { type: 'string' } });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const { name, alias } = parseAliasReference(positionals[0]!);
  const at = values.at === undefined ? undefined : parseIsoTime(values.at, 'at');
  const client = clientFromOptions(values);

  if (at !== undefined) {
    const then = await withUserErrors(() => client.aliasAt(name, alias, at));
    process.stdout.write(values.json ? `${JSON.stringify(then)}\n` : describeAt(then));
    return 0;
  }
  const history = await withUserErrors(() => client.aliasHistory(name, alias));
  process.stdout.write(values.json ? `${JSON.stringify({ name, alias, history })}\n` : describeTimeline(name, alias, history));
  return 0;
}

export function describeAt(r: AliasAtTime): string {
  const ref = `${r.name}@${r.alias}`;
  if (r.version !== null) return `${ref} pointed at v${r.version} at ${r.at} (since ${r.since}, seq ${r.seq})\n`;
  if (r.since !== null) return `${ref} pointed at nothing at ${r.at} (removed ${r.since}, seq ${r.seq})\n`;
  return `${ref} pointed at nothing at ${r.at} (it did not exist yet)\n`;
}

export function describeTimeline(name: string, alias: string, history: AliasEvent[]): string {
  if (history.length === 0) return `${name}@${alias} has never been set\n`;
  const version = (v: number | null) => (v === null ? '-' : `v${v}`);
  return renderTable(
    ['SEQ', 'WHEN', 'ACTION', 'FROM → TO', 'WHO', 'REASON'],
    history.map((e) => [String(e.seq), e.at, e.action, `${version(e.from)} → ${version(e.to)}`, e.actor.name, e.reason ?? '']),
  );
}
