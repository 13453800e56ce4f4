// modelgate resolve <name@ref>: which version and files a reference points at right now.
import type { Resolution } from '../../client/index.js';
import { clientOptionsHelp } from '../args.js';
import { formatBytes } from '../format.js';
import { parseReferenceCommand } from '../reference-command.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate resolve <name@ref> [--at TIME]

Shows the version, version digest and files that <ref> (an alias, v<N> or sha256:<hex>)
points at; with --at TIME (ISO 8601), what it pointed at then, with the record as it was.

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const command = parseReferenceCommand(argv, usage, { at: true });
  if (!command) return 0;
  const { values, name, ref, client, at } = command;
  const resolution = await withUserErrors(() => client.resolve(name, ref, undefined, at));
  process.stdout.write(values.json ? `${JSON.stringify(resolution)}\n` : describe(resolution));
  return 0;
}

function describe(r: Resolution): string {
  const total = r.files.reduce((sum, f) => sum + f.size, 0);
  const sizes = r.files.map((f) => formatBytes(f.size));
  const width = Math.max(0, ...sizes.map((s) => s.length));
  const lines = [
    `${r.name}@${r.ref}`,
    `version  v${r.version}`,
    `digest   ${r.digest}`,
    `updated  ${r.updatedAt} (seq ${r.seq})`,
    `files    ${r.files.length} (${formatBytes(total)})`,
    ...r.files.map((f, i) => `  ${sizes[i]!.padStart(width)}  ${f.digest}  ${f.path}`),
  ];
  // A stack: its closure, one line per component (nested ones indented), then any flagged.
  const walk = (components: Resolution['components'], depth: number) => {
    for (const [c, view] of Object.entries(components ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const bytes = view.files.reduce((sum, f) => sum + f.size, 0);
      lines.push(
        `${'  '.repeat(depth)}${c}  ${view.name}@v${view.version}  ${view.digest}  ${view.status}  ${view.files.length} file(s), ${formatBytes(bytes)}`,
      );
      walk(view.components, depth + 1);
    }
  };
  if (r.components) {
    lines.push('components');
    walk(r.components, 1);
  }
  for (const f of r.flaggedComponents ?? []) lines.push(`WARNING  component ${f.component} (${f.name}@v${f.version}) is ${f.status}`);
  // --at: the record as it was then (the same record `show --at` prints in full).
  if (r.at !== undefined && r.record) {
    lines.push(`as of    ${r.at}`, `status   ${r.record.status}`, `record   ${r.record.recordDigest}`);
    for (const [field, value] of Object.entries(r.record.card ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      lines.push(`card     ${field}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
    for (const [metric, m] of Object.entries(r.record.metrics ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      lines.push(`metric   ${metric} = ${m.value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
