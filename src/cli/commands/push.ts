// modelgate push <dir> <name>: hash every file, upload the blobs the server lacks, register the
// file list as a version (idempotent), optionally point an alias at it.
import { readFile, stat } from 'node:fs/promises';
import {
  ModelgateApiError,
  RateLimiter,
  type AliasChange,
  type FileEntry,
  type ModelgateClient,
  type ModelVersion,
  type VersionRecordInput,
} from '../../client/index.js';
import { describeAliasChange } from '../alias-output.js';
import { USAGE_EXIT_CODE, clientOptionsHelp, parseCommand, parseCount, parseOptionalByteSize } from '../args.js';
import { CliError } from '../cli-error.js';
import { clientFromOptions } from '../client-from-options.js';
import { count, formatBytes, formatDuration } from '../format.js';
import { mapLimited } from '../parallel.js';
import { startProgress, type Progress } from '../progress.js';
import { walkModelDir, type LocalFile } from '../push/walk-model-dir.js';
import { FileHasher } from '../push/file-hasher.js';
import { startUnhashedUpload, uploadFile, type BlobSource, type UnhashedUpload } from '../push/upload-file.js';
import { checkAlias, checkModelName } from '../reference.js';
import { sha256File, type FileHash } from '../sha256-file.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate push <dir> <name> [--component c=name@ref …] [--alias a] [--metadata FILE]
                      [--signature FILE] [--max-connections n] [--limit-rate bytes]

Uploads every regular file under <dir> (symlinks are skipped) and registers them as a new
version of <name>; files the server already has are not uploaded again.

  --component c=name@ref   pin a component (repeat for each): the version becomes a stack, and
                    the server freezes each reference to the version it names now; <dir> may
                    then hold only the stack's own small files (a prompt template), or none

  --alias a         point alias a at the new version
  --metadata FILE   JSON or YAML with any of metadata, lineage, metrics, card, registered with
                    the version (checked before anything is uploaded)
  --signature FILE  an OpenSSF model-signing bundle (Sigstore JSON, e.g. model.sig) over these
                    files: attached right after registration, before --alias moves (the
                    server verifies it; a refusal stops the push with the version registered)
  --max-connections n   files hashed and uploaded at once, one connection each (default 4)
  --limit-rate bytes    total upload bytes per second, e.g. 50MiB

${clientOptionsHelp}`;

const DEFAULT_MAX_CONNECTIONS = 4;
/**
 * Files from this size on are sent while they are hashed (on a worker thread); smaller ones are
 * hashed first, so a file the server has costs no upload and a small one no extra requests.
 */
const SEND_WHILE_HASHING = 16 * 1024 * 1024;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [2, 2], {
    alias: { type: 'string' },
    component: { type: 'string', multiple: true },
    metadata: { type: 'string' },
    signature: { type: 'string' },
    'max-connections': { type: 'string' },
    'limit-rate': { type: 'string' },
  });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [dir, name] = positionals as [string, string];
  checkModelName(name);
  const alias = values.alias === undefined ? undefined : checkAlias(values.alias);
  const maxConnections = parseCount(values['max-connections'], 'max-connections', DEFAULT_MAX_CONNECTIONS);
  const limitRate = parseOptionalByteSize(values['limit-rate'], 'limit-rate');
  const components = parseComponents(values.component ?? []);
  // The metadata reader brings YAML and the request schemas: loaded only when asked for, to keep start-up short.
  const metadata = values.metadata === undefined ? undefined : await import('../push/metadata-file.js');
  const record = values.metadata === undefined ? undefined : await metadata!.readMetadataFile(values.metadata);
  const signature = values.signature === undefined ? undefined : await readSignatureFile(values.signature);
  const client = clientFromOptions(values);

  const result = await withUserErrors(() =>
    push(client, {
      dir,
      name,
      alias,
      maxConnections,
      limitRate,
      record,
      components,
      signature,
      recordDifferences: metadata?.recordDifferences,
    }),
  );
  if (result.recordNotApplied) {
    process.stderr.write(
      `modelgate: warning: the metadata file was not applied: ${result.name}@v${result.version} already had exactly these files ` +
        `and keeps its own ${result.recordNotApplied.join(', ')}\n`,
    );
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else if (result.aliasRefused) {
    // Not the usual success line: a script reading stdout must not take this for a deployed version.
    process.stderr.write(`${describe(result)}\n`);
  } else {
    process.stdout.write(`${result.name}@v${result.version} ${result.digest}\n`);
    process.stderr.write(`${describe(result)}\n`);
  }
  return result.aliasRefused ? 1 : 0;
}

interface PushRequest {
  dir: string;
  name: string;
  alias?: string;
  maxConnections: number;
  /** Upload bytes per second across all connections. */
  limitRate?: number;
  /** Sent with the registration (from --metadata). */
  record?: VersionRecordInput;
  /** From --component: name → reference. */
  components: Record<string, string>;
  /** From --signature: a Sigstore bundle attached after registration, before the alias moves. */
  signature?: unknown;
  /** Which fields of `record` an existing version holds differently (comes with --metadata's reader). */
  recordDifferences?: (record: VersionRecordInput, version: ModelVersion) => string[];
}

interface PushResult {
  name: string;
  version: number;
  digest: string;
  /** False when this exact file list was already registered (the existing version came back). */
  created: boolean;
  files: number;
  bytes: number;
  /** Distinct blobs sent to the server. */
  uploaded: number;
  uploadedBytes: number;
  /** Distinct blobs the server already had. */
  skipped: number;
  alias?: AliasChange;
  /** The server refused to move --alias: the version is registered, the alias did not move. */
  aliasRefused?: { alias: string; code: string; message: string; details?: unknown };
  /** A stack's components as the server froze them. */
  components?: Record<string, { name: string; version: number; digest: string; ref: string }>;
  /** Fields of --metadata that an already registered version holds differently (and keeps). */
  recordNotApplied?: string[];
  seconds: number;
}

async function push(client: ModelgateClient, request: PushRequest): Promise<PushResult> {
  const started = performance.now();
  const files = await listFiles(request.dir, Object.keys(request.components).length > 0);
  const limiter = request.limitRate === undefined ? undefined : new RateLimiter(request.limitRate);
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  // A small file is hashed, checked (HEAD) and, when missing, sent right away; a large one is sent
  // while a worker thread hashes it, and checked once its hash is done (a stored blob's upload is
  // then dropped). One file's hash overlaps the others' uploads; identical files share one check
  // and one upload.
  const outcomes = new Map<string, Promise<{ uploaded: boolean; size: number }>>();
  const hasher = new FileHasher();
  const progress = startProgress('hashing and uploading', 2 * totalBytes);
  let entries: FileEntry[];
  try {
    entries = await mapLimited(files, request.maxConnections, async (file, signal) => {
      const early = file.size >= SEND_WHILE_HASHING ? startUnhashedUpload(client, file, progress, signal, limiter) : null;
      let hashed: FileHash;
      try {
        hashed = early
          ? await hasher.hash(file.absolutePath, (n) => progress.advance(n), signal)
          : await sha256File(file.absolutePath, (n) => progress.advance(n), signal);
      } catch (err) {
        await early?.abandon();
        throw err;
      }
      const { hex, size } = hashed;
      const digest = `sha256:${hex}`;
      const blob = { digest, size, absolutePath: file.absolutePath };
      let outcome = outcomes.get(digest);
      if (outcome) {
        await early?.abandon();
        progress.advance(size);
      } else {
        // Set before any await: an identical file finishing its hash meanwhile must find it.
        outcome =
          early && size === file.size
            ? finishIfMissing(client, blob, early, progress, signal)
            : // The file changed size since it was listed: what was sent is not these bytes.
              Promise.resolve(early?.abandon()).then(() => sendIfMissing(client, blob, progress, signal, limiter));
        outcomes.set(digest, outcome);
      }
      await outcome;
      return { path: file.path, size, digest };
    });
  } finally {
    progress.finish();
    await hasher.close();
  }
  const sent = await Promise.all(outcomes.values());
  const uploaded = sent.filter((o) => o.uploaded);

  const registered = await client.registerVersion(request.name, entries, request.record, undefined, request.components);
  const { version } = registered;
  const notApplied =
    !registered.created && request.record && request.recordDifferences ? request.recordDifferences(request.record, version) : [];
  if (request.signature !== undefined) await client.addSignature(request.name, version.version, request.signature);
  const moved = request.alias === undefined ? undefined : await moveAlias(client, request.name, request.alias, version.version);
  return {
    name: version.name,
    version: version.version,
    digest: version.digest,
    created: registered.created,
    files: entries.length,
    bytes: totalBytes,
    uploaded: uploaded.length,
    uploadedBytes: uploaded.reduce((sum, o) => sum + o.size, 0),
    skipped: sent.length - uploaded.length,
    ...(version.components ? { components: version.components as PushResult['components'] } : {}),
    ...(moved && 'refused' in moved ? { aliasRefused: moved.refused } : moved ? { alias: moved.change } : {}),
    ...(notApplied.length > 0 ? { recordNotApplied: notApplied } : {}),
    seconds: Math.round(performance.now() - started) / 1000,
  };
}

/** Points the alias at the new version; a refusal by the server (a policy gate, a role) is an outcome to report, not a crash. */
async function moveAlias(
  client: ModelgateClient,
  name: string,
  alias: string,
  version: number,
): Promise<{ change: AliasChange } | { refused: NonNullable<PushResult['aliasRefused']> }> {
  try {
    return { change: await client.setAlias(name, alias, { version }) };
  } catch (err) {
    if (!(err instanceof ModelgateApiError) || err.transient) throw err;
    return { refused: { alias, code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) } };
  }
}

/** Completes an upload started before the digest was known, or drops it if the server has the blob. */
async function finishIfMissing(
  client: ModelgateClient,
  blob: BlobSource,
  upload: UnhashedUpload,
  progress: Progress,
  signal: AbortSignal,
): Promise<{ uploaded: boolean; size: number }> {
  let stored: boolean;
  try {
    stored = (await client.blobSize(blob.digest, signal)) !== null;
  } catch (err) {
    await upload.abandon();
    throw err;
  }
  if (stored) {
    await upload.abandon();
    progress.advance(blob.size);
    return { uploaded: false, size: blob.size };
  }
  await upload.finish(blob.digest);
  return { uploaded: true, size: blob.size };
}

/** Uploads the blob unless the server already has it (then its bytes count as done on the meter). */
async function sendIfMissing(
  client: ModelgateClient,
  blob: BlobSource,
  progress: Progress,
  signal: AbortSignal,
  limiter?: RateLimiter,
): Promise<{ uploaded: boolean; size: number }> {
  if ((await client.blobSize(blob.digest, signal)) !== null) {
    progress.advance(blob.size);
    return { uploaded: false, size: blob.size };
  }
  await uploadFile(client, blob, progress, signal, limiter);
  return { uploaded: true, size: blob.size };
}

/** `--component base=llm/llama@production`, each name once. */
function parseComponents(values: string[]): Record<string, string> {
  const components: Record<string, string> = {};
  for (const text of values) {
    const eq = text.indexOf('=');
    const name = text.slice(0, eq);
    const ref = text.slice(eq + 1);
    if (eq <= 0 || !ref.includes('@')) throw new CliError(`--component takes name=model@ref, not "${text}"`, USAGE_EXIT_CODE);
    if (Object.hasOwn(components, name)) throw new CliError(`--component ${name} is given twice`, USAGE_EXIT_CODE);
    components[name] = ref;
  }
  return components;
}

async function listFiles(dir: string, isStack: boolean): Promise<LocalFile[]> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new CliError(`"${dir}" is not a directory`);
  const listing = await walkModelDir(dir);
  for (const entry of listing.skipped) process.stderr.write(`modelgate: warning: skipping ${entry.path} (${entry.reason})\n`);
  if (listing.files.length === 0 && !isStack) throw new CliError(`no files to push in "${dir}"`);
  return listing.files;
}

function describe(r: PushResult): string {
  const lines = [
    `${count(r.files, 'file')} (${formatBytes(r.bytes)}): uploaded ${count(r.uploaded, 'blob')} (${formatBytes(r.uploadedBytes)}), ` +
      `${r.skipped} already on the server, in ${formatDuration(r.seconds * 1000)}`,
    r.created
      ? `registered ${r.name}@v${r.version}`
      : `${r.name}@v${r.version} already had exactly these files${r.components ? ' and components' : ''}`,
  ];
  for (const [c, pin] of Object.entries(r.components ?? {}))
    lines.push(`  component ${c} = ${pin.name}@v${pin.version} ${pin.digest} (from ${pin.ref})`);
  if (r.alias) lines.push(describeAliasChange(r.alias).trimEnd());
  if (r.aliasRefused) {
    const { alias, message, details } = r.aliasRefused;
    const unmet = Array.isArray(details)
      ? details.map((d) => `  ${typeof d === 'object' && d && 'message' in d ? String(d.message) : JSON.stringify(d)}`)
      : [];
    lines.push(`modelgate: ${r.name}@${alias} was NOT moved to v${r.version}: ${message}`, ...unmet);
  }
  return lines.join('\n');
}

/** The bundle of --signature, read and parsed before anything is uploaded. */
async function readSignatureFile(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    throw new CliError(`--signature ${file} is not a readable JSON bundle (${(err as Error).message})`, USAGE_EXIT_CODE);
  }
}
