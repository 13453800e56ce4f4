// modelgate blobs verify [--repair]: have the server re-hash every stored blob (admin, scope *)
// and list each whose bytes do not match its digest; with --repair those are moved aside, so
// they read as missing and the next push uploads them again. Exit 1 when any blob is damaged
// (and was left in place) or could not be read.
import type { BlobVerifyReport } from '../../client/index.js';
import { clientOptionsHelp, parseCommand, splitSubcommand } from '../args.js';
import { clientFromOptions } from '../client-from-options.js';
import { count, formatBytes } from '../format.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate blobs verify [--repair]

Re-hashes every blob in the server's store (on S3, the bucket's objects, not the edge cache) and
reports each whose bytes do not match its digest. Admin only; the answer comes when every blob
has been read.

  --repair    move damaged blobs aside (kept under quarantine/ in the store), so that they read as
              missing and the next push of their files uploads them again

${clientOptionsHelp}`;

export async function run(argv: string[]): Promise<number> {
  const split = splitSubcommand(argv, usage);
  if (!split) return 0;
  const { sub, rest } = split;
  if (sub !== 'verify') {
    process.stderr.write(`modelgate blobs: unknown subcommand "${sub ?? ''}"\n\n${usage}`);
    return 2;
  }
  const parsed = parseCommand(rest, usage, [0, 0], { repair: { type: 'boolean', default: false } });
  if (!parsed) return 0;
  const { values } = parsed;
  const client = clientFromOptions(values);
  const report = await withUserErrors(() => client.verifyBlobs({ repair: values.repair }));
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : describe(report));
  const leftDamaged = report.mismatched.some((m) => !m.movedAside);
  return leftDamaged || report.unreadable.length > 0 ? 1 : 0;
}

export function describe(r: BlobVerifyReport): string {
  const lines = [`checked ${count(r.checked, 'blob')} (${formatBytes(r.bytes)})`];
  if (r.mismatched.length === 0) lines.push('every blob matches its digest');
  for (const m of r.mismatched) {
    lines.push(`DAMAGED ${m.digest}: ${m.size} bytes hashing to ${m.actual}${m.movedAside ? ' (moved aside: push it again)' : ''}`);
  }
  for (const u of r.unreadable) lines.push(`UNREADABLE ${u.digest}: ${u.error}`);
  if (r.mismatched.some((m) => !m.movedAside)) lines.push('run "modelgate blobs verify --repair" to move the damaged blobs aside');
  return `${lines.join('\n')}\n`;
}
