// modelgate audit verify|list|export: the hash-chained audit log (approver or admin, scope *).
// verify has the server recompute the whole chain; list shows one page of entries; export writes
// every matching entry as JSON Lines, following the server's X-Next-Seq pages to the end.
import { open, rename, rm } from 'node:fs/promises';
import type { AuditEntry, AuditQuery, AuditVerification, ModelgateClient } from '../../client/index.js';
import { clientOptionsHelp, parseCommand, parseCount, runSubcommand, USAGE_EXIT_CODE } from '../args.js';
import { CliError } from '../cli-error.js';
import { clientFromOptions } from '../client-from-options.js';
import { clip, renderTable } from '../table.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate audit verify
       modelgate audit list [filters] [--limit N]
       modelgate audit export [filters] [--out FILE] [--page-size N]

Reads the audit log (needs an approver or admin token with scope *).

verify  recomputes the hash chain on the server and compares the tables it answers from (alias
        history, approvals, version records, tokens) with the log; exits 0 when both hold, 1
        with the first bad sequence and each table row that differs when not
list    shows matching entries, oldest first (one page: --limit, default 100)
export  writes every matching entry as JSON Lines to stdout or --out FILE (written whole or not
        at all), fetching --page-size entries per request (default 10000)

filters:
  --model M       entries about model M (M and M@…)
  --actor A       entries by token id or name A
  --action X      action X, or every action under a prefix (alias matches alias.*)
  --from-seq N    from sequence number N
  --to-seq N      up to sequence number N

${clientOptionsHelp}`;

const filterOptions = {
  model: { type: 'string' },
  actor: { type: 'string' },
  action: { type: 'string' },
  'from-seq': { type: 'string' },
  'to-seq': { type: 'string' },
} as const;

const DEFAULT_LIST_LIMIT = 100;
const MAX_PAGE = 10_000;
const DETAILS_WIDTH = 100;

export async function run(argv: string[]): Promise<number> {
  return runSubcommand(argv, { verify, list, export: exportEntries }, usage);
}

async function verify(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0]);
  if (!parsed) return 0;
  const { values } = parsed;
  const client = clientFromOptions(values);
  const result = await withUserErrors(() => client.verifyAudit());
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return result.ok ? 0 : 1;
  }
  if (result.ok) {
    const rows = result.tables ? `; ${result.tables.rows} table rows agree with it` : '';
    process.stdout.write(`audit log intact: ${result.entries} entries, head seq ${result.headSeq} ${result.headHash}${rows}\n`);
    return 0;
  }
  throw new CliError(describeBreak(result));
}

export function describeBreak(result: AuditVerification): string {
  const bad = result.firstBad;
  const where = bad ? `at seq ${bad.seq}: ${bad.reason}` : '(the server gave no first bad entry)';
  const good = result.entries > 0 ? `entries 1..${result.headSeq} verify (last good hash ${result.headHash})` : 'no entry verifies';
  const tables = result.tables;
  const rows = tables && !tables.ok ? tables.mismatches.map((m) => `\n  seq ${m.seq} ${m.table} ${m.key}: ${m.reason}`).join('') : '';
  const more = tables && tables.total > tables.mismatches.length ? `\n  … and ${tables.total - tables.mismatches.length} more` : '';
  const differ = tables && !tables.ok ? `\n  ${tables.total} table row(s) differ from the log:${rows}${more}` : '';
  return `audit log verification FAILED ${where}\n  ${good}${differ}`;
}

function filtersFrom(values: { model?: string; actor?: string; action?: string; 'from-seq'?: string; 'to-seq'?: string }): AuditQuery {
  const query: AuditQuery = {};
  if (values.model !== undefined) query.model = values.model;
  if (values.actor !== undefined) query.actor = values.actor;
  if (values.action !== undefined) query.action = values.action;
  if (values['from-seq'] !== undefined) query.fromSeq = parseCount(values['from-seq'], 'from-seq', 1);
  if (values['to-seq'] !== undefined) query.toSeq = parseCount(values['to-seq'], 'to-seq', 1);
  if (query.fromSeq !== undefined && query.toSeq !== undefined && query.toSeq < query.fromSeq) {
    throw new CliError(`--to-seq ${query.toSeq} is before --from-seq ${query.fromSeq}`, USAGE_EXIT_CODE);
  }
  return query;
}

async function list(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0], { ...filterOptions, limit: { type: 'string' } });
  if (!parsed) return 0;
  const { values } = parsed;
  const query = filtersFrom(values);
  query.limit = pageSize(values.limit, 'limit', DEFAULT_LIST_LIMIT);
  const client = clientFromOptions(values);
  const page = await withUserErrors(() => client.auditPage(query));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(page)}\n`);
    return 0;
  }
  if (page.entries.length === 0) process.stdout.write('no matching audit entries\n');
  else process.stdout.write(renderTable(['SEQ', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'DETAILS'], page.entries.map(entryRow)));
  if (page.nextSeq !== null) process.stderr.write(`modelgate: the page is full; more entries may follow from --from-seq ${page.nextSeq}\n`);
  return 0;
}

function entryRow(e: AuditEntry): string[] {
  return [String(e.seq), e.at, e.actor.name, e.action, e.target, clip(JSON.stringify(e.details), DETAILS_WIDTH)];
}

function pageSize(text: string | undefined, option: string, fallback: number): number {
  const n = parseCount(text, option, fallback);
  if (n > MAX_PAGE) throw new CliError(`--${option} must be at most ${MAX_PAGE}`, USAGE_EXIT_CODE);
  return n;
}

interface ExportSummary {
  out: string | null;
  entries: number;
  firstSeq: number | null;
  lastSeq: number | null;
  pages: number;
}

async function exportEntries(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0], { ...filterOptions, out: { type: 'string' }, 'page-size': { type: 'string' } });
  if (!parsed) return 0;
  const { values } = parsed;
  const query = filtersFrom(values);
  const size = pageSize(values['page-size'], 'page-size', MAX_PAGE);
  const client = clientFromOptions(values);
  const out = values.out;

  const summary = await withUserErrors(async () => {
    if (out === undefined) return exportTo(client, query, size, writeStdout, null);
    // Written beside the target and renamed into place only when complete: a failed export never
    // leaves a file that looks like a whole log.
    const temporary = `${out}.partial-${process.pid}`;
    const file = await open(temporary, 'w');
    try {
      const result = await exportTo(client, query, size, (text) => file.appendFile(text), out);
      await file.sync();
      await file.close();
      await rename(temporary, out);
      return result;
    } catch (err) {
      await file.close().catch(() => undefined);
      await rm(temporary, { force: true });
      throw err;
    }
  });
  if (out !== undefined) {
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const range = summary.firstSeq === null ? '' : ` (seq ${summary.firstSeq}..${summary.lastSeq})`;
      process.stderr.write(`exported ${summary.entries} audit entries${range} to ${out}\n`);
    }
  }
  return 0;
}

async function exportTo(
  client: ModelgateClient,
  query: AuditQuery,
  limit: number,
  write: (text: string) => Promise<void>,
  out: string | null,
): Promise<ExportSummary> {
  const summary: ExportSummary = { out, entries: 0, firstSeq: null, lastSeq: null, pages: 0 };
  let fromSeq = query.fromSeq;
  for (;;) {
    const page = await client.auditJsonlPage({ ...query, fromSeq, limit });
    summary.pages++;
    const lines = page.text.split('\n').filter((line) => line !== '');
    for (const line of lines) {
      const seq = seqOf(line);
      // Pages must move forward: a repeated or reordered entry would corrupt the export.
      if (summary.lastSeq !== null && seq <= summary.lastSeq) {
        throw new CliError(`the server sent audit entry ${seq} after ${summary.lastSeq}; export stopped`);
      }
      summary.firstSeq ??= seq;
      summary.lastSeq = seq;
      summary.entries++;
    }
    if (lines.length > 0) await write(`${lines.join('\n')}\n`);
    if (page.nextSeq === null) return summary;
    if (fromSeq !== undefined && page.nextSeq <= fromSeq) {
      throw new CliError(`the server's next page starts at seq ${page.nextSeq}, not after ${fromSeq}; export stopped`);
    }
    fromSeq = page.nextSeq;
  }
}

function seqOf(line: string): number {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    throw new CliError(`the server sent an audit line that is not JSON: ${clip(line, 200)}`);
  }
  const seq = (entry as { seq?: unknown } | null)?.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq))
    throw new CliError(`the server sent an audit entry without a sequence number: ${clip(line, 200)}`);
  return seq;
}

function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}
