// modelgate pull <name@ref> [dir]: resolve the reference, then fetch every file that is not
// already in place with parallel Range requests, resumably, verifying each digest before the file
// appears under its real name.
import { resolve as resolvePath } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { RateLimiter, type BlobRangeReader, type ModelgateClient, type Resolution } from '../../client/index.js';
import { closureFiles, closureMismatch } from '../../domain/resolution.js';
import type { SigningTrust } from '../../lib/sigstore-bundle.js';
import { clientOptionsHelp, parseCommand, parseCount, parseOptionalByteSize } from '../args.js';
import { CliError } from '../cli-error.js';
import { clientFromOptions } from '../client-from-options.js';
import { parseIsoTime } from '../time.js';
import { count, formatBytes, formatDuration } from '../format.js';
import { mapLimited, startPool } from '../parallel.js';
import { startProgress, type Progress } from '../progress.js';
import { parseModelReference } from '../reference.js';
import { downloadRun } from '../pull/download-run.js';
import { hasExpectedContent, hasExpectedSize } from '../pull/existing-file.js';
import { FileDownload } from '../pull/file-download.js';
import { openPartialDownload } from '../pull/partial-download.js';
import { ConnectionController, initialConnections } from '../pull/connection-controller.js';
import { coreCount, cpuTimes } from '../pull/cpu-times.js';
import { maxRunBytes, RunQueue } from '../pull/piece-plan.js';
import { PrefixHasher } from '../pull/prefix-hasher.js';
import { placeFile } from '../pull/place-file.js';
import { groupByBlob, planTargets, type BlobWork, type PlannedFile } from '../pull/plan-pull.js';
import { removeEmptyWorkDirs } from '../pull/work-dir.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate pull <name@ref> [dir] [--at TIME] [--max-connections n] [--limit-rate bytes] [--piece-size bytes]

Downloads the files of a version into [dir] (default: ./<last part of name>), verifying every
byte as it arrives. A stack comes with its components: each in a folder of its name under [dir]
(nested stacks nest), every component checked against its digest, a blob shared by several
components fetched once. Files already there with the right digest are kept; an interrupted pull
resumes where it stopped.

  --at TIME             pull what <ref> pointed at then (ISO 8601), from the alias history
  --max-connections n   connections at most (default 4); a pull starts with one (and one
                        per 8 files still to fetch), then adds one at a time while the
                        measured throughput grows by 10% with each, the hash keeps up and
                        the cores are not all busy, up to this
  --limit-rate bytes    total bytes per second across all connections, e.g. 50MiB
  --piece-size bytes    the unit of resume, e.g. 16MiB (default: about 1/64 of the file, 1 to
                        16 MiB); one Range request covers a run of consecutive pieces (up to
                        256 MiB on one connection, 32 MiB on several); a resumed file keeps
                        the piece size it started with
  --verify-signature    before downloading, check that a model signature attached to the
                        version verifies with --key (or --ca and --identity) and lists exactly
                        its files and digests (OpenSSF model signing); exit 1 otherwise
  --key FILE[@UNTIL]    the signer's PEM public key (repeatable); with @UNTIL (RFC 3339, e.g.
                        2027-01-01T00:00:00Z) the key verifies nothing after that instant
  --ca FILE             for certificate-based bundles: the PEM CA chain (root and intermediates)
                        the signing certificate must chain to; with --identity
  --identity SAN        the email or URI the signing certificate must name, exactly
  --issuer URL          and the OIDC issuer its Fulcio-style issuer extension must name

${clientOptionsHelp}`;

const DEFAULT_MAX_CONNECTIONS = 4;
/** How often finished pieces are made durable (data synced, then the resume state written). */
const CHECKPOINT_INTERVAL_MS = 2000;
/** How often the connection count is reconsidered from the bytes received so far. */
const STEER_INTERVAL_MS = 50;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 2], {
    'max-connections': { type: 'string' },
    'limit-rate': { type: 'string' },
    'piece-size': { type: 'string' },
    at: { type: 'string' },
    'verify-signature': { type: 'boolean', default: false },
    key: { type: 'string', multiple: true },
    ca: { type: 'string' },
    identity: { type: 'string' },
    issuer: { type: 'string' },
  });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const { name, ref } = parseModelReference(positionals[0]!);
  const dir = positionals[1] ?? name.slice(name.lastIndexOf('/') + 1);
  const maxConnections = parseCount(values['max-connections'], 'max-connections', DEFAULT_MAX_CONNECTIONS);
  const limitRate = parseOptionalByteSize(values['limit-rate'], 'limit-rate');
  const pieceSize = parseOptionalByteSize(values['piece-size'], 'piece-size');
  const client = clientFromOptions(values);
  const at = values.at === undefined ? undefined : parseIsoTime(values.at, 'at');

  // Only a pull that checks a signature loads the Sigstore libraries.
  const keys = values['verify-signature']
    ? await (await import('../pull/signature-check.js')).readTrust(values.key ?? [], values.ca, values.identity, values.issuer)
    : null;

  const result = await withUserErrors(() =>
    pull(client, { name, ref, dir, maxConnections, limitRate, pieceSize, keys, ...(at ? { at } : {}) }),
  );
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${describe(result)}\n`);
  return 0;
}

interface PullRequest {
  name: string;
  ref: string;
  dir: string;
  maxConnections: number;
  /** Bytes per second across all connections. */
  limitRate?: number;
  /** Chosen from each file's size when not given. */
  pieceSize?: number;
  /** Pull what the reference pointed at then (ISO 8601). */
  at?: string;
  /** With --verify-signature: the keys or certificate identity a signature must verify with. */
  keys: SigningTrust | null;
}

interface PullResult {
  /** A stack's components, each in a folder of its name under dir. */
  components?: string[];
  name: string;
  ref: string;
  version: number;
  digest: string;
  dir: string;
  files: number;
  bytes: number;
  /** Files whose content came over the network in this pull. */
  downloaded: number;
  /** Bytes transferred by this pull (resumed bytes are not counted). */
  downloadedBytes: number;
  resumedBytes: number;
  /** The most download connections open at once (chosen by measured throughput, at most --max-connections); 0 with nothing to fetch. */
  connections: number;
  /** Files filled by copying identical content already in place. */
  copied: number;
  /** Files already present with the right digest. */
  skipped: number;
  seconds: number;
}

async function pull(client: ModelgateClient, request: PullRequest): Promise<PullResult> {
  const started = performance.now();
  const hasher = new PrefixHasher();
  // The hashing thread starts while the resolve's answer is on its way, on the other core, ready
  // when the first bytes arrive; but only once the request is written: creating the thread holds
  // this one for a few milliseconds.
  const resolving = client.resolve(request.name, request.ref, undefined, request.at, () => hasher.start());
  try {
    return await pullWith(client, request, hasher, started, resolving);
  } finally {
    await hasher.close();
  }
}

async function pullWith(
  client: ModelgateClient,
  request: PullRequest,
  hasher: PrefixHasher,
  started: number,
  resolving: Promise<Resolution>,
): Promise<PullResult> {
  const resolution = await resolving;
  checkVersionDigest(resolution);
  if (request.keys) await (await import('../pull/signature-check.js')).verifySignature(client, resolution, request.keys);
  const root = resolvePath(request.dir);
  // A stack: its own files, then each component's under a folder of its name (blobs shared between components are fetched once).
  const planned = planTargets(root, closureFiles(resolution.files, resolution.components));
  await mkdir(root, { recursive: true });

  const inPlace = await findFilesInPlace(planned, request.maxConnections);
  const work = groupByBlob(planned, inPlace);
  const copies = work.filter((w) => w.localSource !== undefined);
  const fetches = work.filter((w) => w.localSource === undefined);

  for (const w of copies)
    await placeFile(
      root,
      w.localSource!,
      w.needed.map((p) => p.target),
      'copy',
    );
  const fetched = await fetchBlobs(client, root, fetches, request, hasher);
  await removeEmptyWorkDirs(root);

  const filesIn = (ws: BlobWork[]) => ws.reduce((n, w) => n + w.needed.length, 0);
  return {
    name: resolution.name,
    ref: request.ref,
    version: resolution.version,
    digest: resolution.digest,
    dir: request.dir,
    ...(resolution.components ? { components: Object.keys(resolution.components).sort() } : {}),
    files: planned.length,
    bytes: planned.reduce((sum, p) => sum + p.file.size, 0),
    downloaded: filesIn(fetches),
    downloadedBytes: fetched.transferred,
    resumedBytes: fetched.resumed,
    connections: fetched.connections,
    copied: filesIn(copies),
    skipped: inPlace.filter(Boolean).length,
    seconds: Math.round(performance.now() - started) / 1000,
  };
}

/** Which targets already hold the right bytes; same-size files are hashed, with a meter since that can take a while. */
async function findFilesInPlace(planned: PlannedFile[], concurrency: number): Promise<boolean[]> {
  const sameSize = await mapLimited(planned, concurrency, (p) => hasExpectedSize(p.target, p.file.size));
  const progress = startProgress(
    'checking',
    planned.reduce((sum, p, i) => (sameSize[i] ? sum + p.file.size : sum), 0),
  );
  try {
    return await mapLimited(
      planned,
      concurrency,
      async (p, signal, i) =>
        sameSize[i]! && (await hasExpectedContent(p.target, hexOf(p.file.digest), (n) => progress.advance(n), signal)),
    );
  } finally {
    progress.finish();
  }
}

/**
 * Downloads every blob in `work` with one pool of keep-alive connections taking runs of pieces in
 * file order, so small files keep the link busy next to a large one and each file's hash can follow
 * its pieces. Finished pieces are checkpointed every few seconds and when the pull stops early.
 */
async function fetchBlobs(
  client: ModelgateClient,
  root: string,
  work: BlobWork[],
  request: PullRequest,
  hasher: PrefixHasher,
): Promise<{ transferred: number; resumed: number; connections: number }> {
  const files: { work: BlobWork; file: FileDownload }[] = [];
  const limiter = request.limitRate === undefined ? undefined : new RateLimiter(request.limitRate);
  const readers: BlobRangeReader[] = [];
  const interrupted = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => interrupted.abort(new CliError(`interrupted by ${signal}; run pull again to resume`, 130));
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const checkpoints = setInterval(
    () => void Promise.all(files.map(({ file }) => file.checkpoint())).catch(() => undefined),
    CHECKPOINT_INTERVAL_MS,
  );
  try {
    for (const w of work)
      files.push({ work: w, file: new FileDownload(openPartialDownload(root, w.digest, w.size, request.pieceSize), hasher) });
    const finish = ({ work: w, file }: (typeof files)[number]) =>
      file.finish(
        root,
        w.needed.map((p) => p.target),
        w.needed.map((p) => p.file.path),
      );

    const total = work.reduce((sum, w) => sum + w.size, 0);
    const resumed = files.reduce((sum, f) => sum + f.file.partial.resumedBytes, 0);
    const toFetch = total - resumed;
    const pieceCount = files.reduce((n, f) => n + f.file.partial.missing.length, 0);
    const controller = new ConnectionController({
      initial: initialConnections(pieceCount, files.filter((f) => f.file.remaining > 0).length, request.maxConnections),
      max: request.maxConnections,
      cores: coreCount(),
    });
    // One Range request per run of consecutive pieces, runs taken in file order, sized for the connections of the moment.
    const queue = new RunQueue(files.map((owner) => ({ owner, missing: owner.file.partial.missing })));
    const progress = startProgress('downloading', total, { initial: resumed });
    /** Bytes received by this pull so far (a failed attempt's are taken back), what the controller measures. */
    let received = 0;
    const meter: Progress = {
      advance: (n) => {
        received += n;
        progress.advance(n);
      },
      note: (message) => progress.note(message),
      finish: () => progress.finish(),
    };
    try {
      // Empty blobs and blobs finished by an earlier pull have no pieces left: only verification.
      // A file waits for its hash without holding a connection.
      const finishing = files.filter((f) => f.file.remaining === 0).map(finish);
      const pool = startPool(
        () => queue.take(maxRunBytes(toFetch, controller.target)),
        controller.target,
        async ({ owner, run }, signal) => {
          // Each connection reads into its own ring of shared memory, hashed where the bytes land.
          const reader = readers.pop() ?? client.rangeReader({ limiter, receiveBuffers: hasher.ring() });
          try {
            await downloadRun(reader, owner.file, run, meter, signal, (piece) => {
              if (owner.file.pieceDone(piece)) finishing.push(finish(owner).catch((err: unknown) => interrupted.abort(err) as never));
            });
          } finally {
            readers.push(reader);
          }
        },
        interrupted.signal,
      );
      const steering = setInterval(() => {
        if (controller.decided) return;
        pool.resize(controller.sample(performance.now(), received, toFetch - received, hasher.busyMs(), cpuTimes()));
      }, STEER_INTERVAL_MS);
      try {
        await pool.done;
      } finally {
        clearInterval(steering);
      }
      await Promise.all(finishing);
      interrupted.signal.throwIfAborted();
    } finally {
      progress.finish();
    }
    // Every missing piece arrived exactly once (failed attempts do not count), so this is what crossed the network.
    return { transferred: total - resumed, resumed, connections: pieceCount === 0 ? 0 : controller.peak };
  } catch (err) {
    await Promise.all(files.map(({ file }) => file.abandon()));
    throw interrupted.signal.aborted ? interrupted.signal.reason : err;
  } finally {
    clearInterval(checkpoints);
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    for (const reader of readers) reader.close();
  }
}

/**
 * The file list (and a stack's components, each checked down to its own files) must be the one
 * the version digest names; otherwise the answer was altered or garbled.
 */
function checkVersionDigest(resolution: Resolution): void {
  const mismatch = closureMismatch(resolution, `${resolution.name}@v${resolution.version}`);
  if (mismatch) throw new CliError(`${mismatch}: the answer does not match its version digest`);
}

function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

function describe(r: PullResult): string {
  const parts = [
    `${count(r.files, 'file')} (${formatBytes(r.bytes)})`,
    `${r.downloaded} downloaded (${formatBytes(r.downloadedBytes)}${r.resumedBytes ? `, ${formatBytes(r.resumedBytes)} resumed` : ''})`,
  ];
  if (r.copied) parts.push(`${r.copied} copied`);
  parts.push(`${r.skipped} already in place`);
  const stack = r.components ? ` with components ${r.components.map((c) => `${c}/`).join(', ')}` : '';
  return `pulled ${r.name}@${r.ref} (v${r.version}, ${r.digest}) into ${r.dir}${stack}: ${parts.join(', ')}, in ${formatDuration(r.seconds * 1000)}`;
}
