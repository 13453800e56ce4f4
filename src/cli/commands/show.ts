// modelgate show <name@ref>: everything an approver needs to judge a version on one screen:
// identity and status, the aliases pointing at it, files, metadata, lineage, metrics, the model
// card under its headings, and every approval decision.
import type { Approval, ModelCard, VersionDetails } from '../../client/index.js';
import { clientOptionsHelp } from '../args.js';
import { formatBytes } from '../format.js';
import { parseReferenceCommand } from '../reference-command.js';
import { renderTable } from '../table.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate show <name@ref> [--at TIME]

Shows the version that <ref> (an alias, v<N> or sha256:<hex>) points at: digest, status, who
registered it, the aliases pointing at it, files, metadata, lineage, metrics, the model card and
the approval decisions. --json prints the version as the server returns it, plus "approvals".
With --at TIME (ISO 8601): the version <ref> pointed at then, with its record and status then
(aliases and decisions are today's).

${clientOptionsHelp}`;

/** The card's fields in reading order, with the headings a model card uses. */
export const CARD_HEADINGS: [keyof ModelCard, string][] = [
  ['intendedUse', 'Intended use'],
  ['outOfScopeUse', 'Out-of-scope use'],
  ['trainingData', 'Training data'],
  ['evaluation', 'Evaluation'],
  ['limitations', 'Known limitations and biases'],
  ['monitoring', 'Monitoring'],
  ['contacts', 'Contacts'],
];

export async function run(argv: string[]): Promise<number> {
  const command = parseReferenceCommand(argv, usage, { at: true });
  if (!command) return 0;
  const { values, name, ref, client, at } = command;

  const shown = await withUserErrors(async () => {
    const resolution = await client.resolve(name, ref, undefined, at);
    const [version, history, model] = await Promise.all([
      client.getVersion(name, resolution.version, undefined, at),
      client.versionHistory(name, resolution.version),
      client.getModel(name),
    ]);
    const aliases = Object.entries(model.aliases)
      .filter(([, v]) => v === version.version)
      .map(([alias]) => alias)
      .sort();
    return { version, approvals: history.approvals, aliases };
  });
  process.stdout.write(
    values.json
      ? `${JSON.stringify({ ...shown.version, approvals: shown.approvals })}\n`
      : describe(shown.version, shown.aliases, shown.approvals),
  );
  return 0;
}

export function describe(v: VersionDetails, aliases: string[], approvals: Approval[]): string {
  const out: string[] = [];
  const total = v.files.reduce((sum, f) => sum + f.size, 0);
  out.push(
    `${v.name}@v${v.version}`,
    `digest    ${v.digest}`,
    `status    ${v.status}`,
    `record    ${v.recordDigest}${v.recordChangedAt ? ` (since ${v.recordChangedAt})` : ''}`,
    `created   ${v.createdAt} by ${v.createdBy}`,
    `aliases   ${aliases.length > 0 ? aliases.map((a) => `@${a}`).join(', ') : '(none)'}`,
  );
  if (v.servingUnapproved) {
    const on = v.servingUnapproved.aliases.map((a) => `@${a}`).join(', ');
    out.push(`WARNING   serving on ${on} on a record not yet re-approved since ${v.servingUnapproved.since}`);
  }
  if (v.protectedAliases?.length) out.push(`held      ${v.protectedAliases.map((a) => `@${a}`).join(', ')} (protected: kept forever)`);
  out.push(`files     ${v.files.length} (${formatBytes(total)})`);
  const sizes = v.files.map((f) => formatBytes(f.size));
  const width = Math.max(0, ...sizes.map((s) => s.length));
  for (const [i, f] of v.files.entries()) out.push(`  ${sizes[i]!.padStart(width)}  ${f.path}`);
  // A stack: each pinned component, and any retired or rejected since.
  const components = Object.entries(v.components ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  if (components.length > 0) {
    out.push(`components ${components.length}`);
    for (const [c, pin] of components) out.push(`  ${c}  ${pin.name}@v${pin.version}  ${pin.digest}  (from ${pin.ref})`);
  }
  for (const f of v.flaggedComponents ?? []) out.push(`WARNING   component ${f.component} (${f.name}@v${f.version}) is ${f.status}`);

  section(
    out,
    'metadata',
    Object.entries(v.metadata ?? {}).map(([key, value]) => [key, scalar(value)]),
  );
  section(out, 'lineage', lineageRows(v));
  out.push('', 'metrics');
  const metrics = Object.entries(v.metrics ?? {});
  if (metrics.length === 0) out.push('  (none)');
  for (const [metric, m] of metrics) {
    const where = [m.dataset, m.split].filter((p) => p !== undefined && p !== '').join('/');
    out.push(`  ${metric} = ${m.value}${where ? ` (${where})` : ''}`);
  }

  out.push('', 'model card');
  for (const [field, heading] of CARD_HEADINGS) {
    out.push(`  ${heading}`);
    const value = v.card?.[field];
    const lines = Array.isArray(value) ? value : typeof value === 'string' && value.trim() !== '' ? value.trimEnd().split('\n') : [];
    if (lines.length === 0) out.push('    (not given)');
    for (const line of lines) out.push(`    ${line}`.trimEnd());
  }

  out.push('', 'approvals');
  if (approvals.length === 0) out.push('  (none)');
  else {
    const table = renderTable(
      ['DECISION', 'BY', 'AT', 'ON RECORD', 'COMMENT'],
      approvals.map((a) => [
        a.decision,
        a.approver.name,
        a.at,
        a.recordDigest === v.recordDigest ? 'current' : a.decision === 'approve' ? 'earlier (void)' : 'earlier (rejection stands)',
        a.comment ?? '',
      ]),
      '  ',
    );
    out.push(table.trimEnd());
  }
  return `${out.join('\n')}\n`;
}

function section(out: string[], title: string, rows: [string, string][]): void {
  out.push('', title);
  if (rows.length === 0) {
    out.push('  (none)');
    return;
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [key, value] of rows) out.push(`  ${key.padEnd(width)}  ${value}`);
}

function lineageRows(v: VersionDetails): [string, string][] {
  const l = v.lineage ?? {};
  const rows: [string, string][] = [];
  for (const d of l.datasets ?? []) rows.push(['dataset', [d.name, d.uri, d.digest].filter(Boolean).join('  ')]);
  if (l.code) rows.push(['code', `${l.code.repo} @ ${l.code.commit}`]);
  if (l.parent) rows.push(['parent', l.parent]);
  if (l.trainingRunId) rows.push(['training run', l.trainingRunId]);
  return rows;
}

function scalar(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
