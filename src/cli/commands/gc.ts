// modelgate gc [--dry-run]: retention and blob sweep (admin, scope *). Reports the versions
// deleted by retention, the blobs removed and the bytes freed (or what would be), and the blobs
// kept, by reason.
import type { GcReport } from '../../client/index.js';
import { clientOptionsHelp, parseCommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { count, formatBytes } from '../format.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate gc [--dry-run]

Deletes versions past the server's retention (retention.unprotectedVersionDays) that never held
a protected alias and hold no alias now, and, only when retention.evidenceVersionDays is set,
retired or once-protected versions that long after they last served; then removes blobs no
version lists. Every deletion is audited. Blobs younger than gc.graceSeconds, or in use by an upload or a registration, are kept.

  --dry-run   report what would be deleted and delete nothing

${clientOptionsHelp}`;

const KEPT_REASONS: [keyof GcReport['kept'], string][] = [
  ['referenced', 'still listed by a version'],
  ['young', 'younger than the grace period (an upload whose version may not be registered yet)'],
  ['pinned', 'in use by an upload or a registration in progress'],
  ['changed', 're-uploaded while being removed'],
];

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0], { 'dry-run': { type: 'boolean', default: false } });
  if (!parsed) return 0;
  const { values } = parsed;
  const client = clientFromOptions(values);
  const report = await withUserErrors(() => client.gc({ dryRun: values['dry-run'] }));
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : describe(report));
  return 0;
}

export function describe(r: GcReport): string {
  const would = r.dryRun;
  const lines: string[] = [would ? 'dry run: nothing was deleted' : 'garbage collection done'];
  if (r.versions.length === 0) lines.push(`no versions ${would ? 'would be' : 'were'} deleted (none past retention, or retention is off)`);
  else {
    lines.push(`${would ? 'would delete' : 'deleted'} ${count(r.versions.length, 'version')}:`);
    for (const v of r.versions) lines.push(`  ${v.name}@v${v.version} (registered ${v.createdAt})`);
  }
  lines.push(
    `${would ? 'would remove' : 'removed'} ${count(r.blobs.length, 'blob')}, ${would ? 'freeing' : 'freed'} ${formatBytes(r.bytes)}`,
  );
  const kept = KEPT_REASONS.filter(([key]) => r.kept[key] > 0);
  if (kept.length === 0) lines.push('kept no other blobs');
  else {
    lines.push('kept:');
    for (const [key, why] of kept) lines.push(`  ${count(r.kept[key], 'blob')} ${why}`);
  }
  if (r.keptVersions.length > 0) {
    lines.push(`kept ${count(r.keptVersions.length, 'version')} past retention:`);
    for (const v of r.keptVersions) lines.push(`  ${v.name}@v${v.version}: ${v.reason}`);
  }
  lines.push('versions that ever held a protected alias, or hold an alias now, are always kept, with every version they reach');
  return `${lines.join('\n')}\n`;
}
