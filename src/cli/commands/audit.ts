// modelgate audit verify|list|export: the hash-chained audit log (approver or admin, scope *).
// verify has the server recompute the whole chain; list shows one page of entries; export writes
// every matching entry as JSON Lines, following the server's X-Next-Seq pages to the end.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { parseHead, verifyExport } from '../../domain/audit-offline.js';
import type { AuditEntry, AuditQuery, AuditVerification, ModelgateClient } from '../../client/index.js';
import { clientOptionsHelp, parseCommand, parseCount, runSubcommand, USAGE_EXIT_CODE } from '../args.js';
import { CliError } from '../cli-error.js';
import { clientFromOptions } from '../client-from-options.js';
import { clip, renderTable } from '../table.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate audit verify
       modelgate audit verify --offline FILE --public-key PEM [--public-key PEM…] [--expect-head SEQ:HASH]
       modelgate audit list [filters] [--limit N]
       modelgate audit export [filters] [--out FILE] [--page-size N]
       modelgate audit checkpoint
       modelgate audit checkpoints
       modelgate audit keys [--out FILE] [--key-id ID]

Reads the audit log (an auditor, approver or admin token; a scoped one sees its scope, other
entries only as their place in the chain).

verify  recomputes the hash chain on the server and compares the tables it answers from (alias
        history, approvals, version records, tokens) with the log; exits 0 when both hold, 1
        with the first bad sequence and each table row that differs when not
        --offline FILE verifies an export (as \`audit export\` wrote it, from seq 1) with no
        server: the chain recomputed, at least one checkpoint in it signed by a --public-key,
        and with --expect-head SEQ:HASH (a head kept elsewhere) that entry with that hash
list    shows matching entries, oldest first (one page: --limit, default 100)
export  writes every matching entry as JSON Lines to stdout or --out FILE (written whole or not
        at all), fetching --page-size entries per request (default 10000)

checkpoint   signs the chain's head now (the server's checkpoint key) and prints it with the
             SEQ:HASH to keep elsewhere
checkpoints  lists the signed checkpoints recorded in the log
keys         lists the public keys that verify checkpoints (no token needed); --out FILE writes
             the active key's PEM (or --key-id ID's) for --public-key

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
  return runSubcommand(argv, { verify, list, export: exportEntries, checkpoint, checkpoints, keys }, usage);
}

async function verify(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0], {
    offline: { type: 'string' },
    'public-key': { type: 'string', multiple: true },
    'expect-head': { type: 'string' },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  if (values.offline !== undefined) return verifyOffline(values.offline, values['public-key'] ?? [], values['expect-head'], values.json);
  if (values['public-key'] || values['expect-head']) {
    throw new CliError('--public-key and --expect-head go with --offline FILE', USAGE_EXIT_CODE);
  }
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

async function verifyOffline(file: string, keyFiles: string[], head: string | undefined, json: boolean): Promise<number> {
  if (keyFiles.length === 0)
    throw new CliError('--offline needs --public-key PEM (see `modelgate audit keys --out FILE`)', USAGE_EXIT_CODE);
  const expectHead = head === undefined ? undefined : parseHead(head);
  if (expectHead === null) throw new CliError(`--expect-head must be SEQ:sha256:<64 hex>, not "${clip(head!, 100)}"`, USAGE_EXIT_CODE);
  const publicKeys = await Promise.all(keyFiles.map((f) => readPublicKey(f)));
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new CliError(`cannot read ${file}: ${err.message}`);
  });
  const result = verifyExport(text, { publicKeys, ...(expectHead ? { expectHead } : {}) });
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return result.ok ? 0 : 1;
  }
  if (!result.ok) throw new CliError(describeBreak(result));
  const last = result.checkpoints!.last!;
  // The checkpoint's own entry follows the head it signs: it is not an entry left uncovered.
  const after = result.headSeq - last.entrySeq;
  const lines = [
    `export verified offline: ${result.entries} entries (seq ${result.firstSeq}..${result.headSeq}), head ${result.headSeq}:${result.headHash}`,
    `  ${result.checkpoints!.verified} checkpoint(s) signed by ${last.keyId}; the last covers seq ${last.seq} (${last.seq}:${last.hash})`,
  ];
  if (after > 0) lines.push(`  ${after} entries after it are chained but not covered by a checkpoint in this file`);
  if (result.expectedHead) lines.push(`  expected head ${result.expectedHead.seq}:${result.expectedHead.hash} found`);
  if (result.redacted) lines.push(`  ${result.redacted} entries outside the export's scope are present only as their hashes`);
  if (result.partial) lines.push(`  ${result.partial} entries show only their steps inside the export's scope (the others as digests)`);
  if (result.firstSeq !== 1) lines.push(`  the file starts at seq ${result.firstSeq}: its link to the entries before is taken on trust`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function readPublicKey(file: string): Promise<KeyObject> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read public key ${file}: ${(err as Error).message}`);
  }
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`it is a ${key.asymmetricKeyType} key, not Ed25519`);
    return key;
  } catch (err) {
    throw new CliError(`${file} is not an Ed25519 public key PEM: ${(err as Error).message}`);
  }
}

async function checkpoint(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0]);
  if (!parsed) return 0;
  const client = clientFromOptions(parsed.values);
  const taken = await withUserErrors(() => client.takeCheckpoint());
  if (parsed.values.json) process.stdout.write(`${JSON.stringify(taken)}\n`);
  else {
    const what = taken.created ? 'checkpoint signed' : 'no change since the last checkpoint';
    process.stdout.write(`${what}: seq ${taken.seq} ${taken.hash} key ${taken.keyId} at ${taken.at}\nhead ${taken.head}\n`);
  }
  return 0;
}

async function checkpoints(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0]);
  if (!parsed) return 0;
  const client = clientFromOptions(parsed.values);
  const list = await withUserErrors(() => client.checkpoints());
  if (parsed.values.json) {
    process.stdout.write(`${JSON.stringify(list)}\n`);
    return 0;
  }
  if (list.checkpoints.length === 0) process.stdout.write('no checkpoints yet\n');
  else
    process.stdout.write(
      renderTable(
        ['ENTRY', 'HEAD', 'AT', 'KEY'],
        list.checkpoints.map((c) => [String(c.entrySeq), `${c.seq}:${c.hash}`, c.at, c.keyId]),
      ),
    );
  return 0;
}

async function keys(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [0, 0], { out: { type: 'string' }, 'key-id': { type: 'string' } });
  if (!parsed) return 0;
  const { values } = parsed;
  const client = clientFromOptions(values);
  const { keys: published } = await withUserErrors(() => client.checkpointKeys());
  if (values.out !== undefined) {
    const wanted = values['key-id'];
    const key = wanted === undefined ? published.find((k) => k.status === 'active') : published.find((k) => k.keyId === wanted);
    if (!key)
      throw new CliError(wanted === undefined ? 'the server publishes no active checkpoint key' : `the server publishes no key ${wanted}`);
    await writeFile(values.out, key.publicKey);
    process.stderr.write(`wrote ${key.status} key ${key.keyId} to ${values.out}\n`);
    return 0;
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ keys: published })}\n`);
  else if (published.length === 0) process.stdout.write('the server publishes no checkpoint key\n');
  else
    process.stdout.write(
      renderTable(
        ['KEY', 'STATUS', 'ALGORITHM'],
        published.map((k) => [k.keyId, k.status, k.algorithm]),
      ),
    );
  return 0;
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
