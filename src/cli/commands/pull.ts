// modelgate pull <name@ref> [dir]: resolve the reference, then fetch every file that is not
// already in place with parallel Range requests, resumably, verifying each digest before the file
// appears under its real name.
import { resolve as resolvePath } from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { ModelgateClient, Resolution } from '../../client/index.js';
import { sortFiles, versionDigest } from '../../domain/version-digest.js';
import { clientOptionsHelp, parseByteSize, parseCommand, parseCount } from '../args.js';
import { CliError } from '../cli-error.js';
import { clientFromOptions } from '../client-from-options.js';
import { count, formatBytes, formatDuration } from '../format.js';
import { mapLimited } from '../parallel.js';
import { startProgress } from '../progress.js';
import { parseModelReference } from '../reference.js';
import { downloadPiece } from '../pull/download-piece.js';
import { hasExpectedContent, hasExpectedSize } from '../pull/existing-file.js';
import { finishPartialDownload, openPartialDownload, type PartialDownload } from '../pull/partial-download.js';
import { DEFAULT_PIECE_SIZE } from '../pull/piece-plan.js';
import { placeFile } from '../pull/place-file.js';
import { groupByBlob, planTargets, type BlobWork, type PlannedFile } from '../pull/plan-pull.js';
import { removeEmptyWorkDirs } from '../pull/work-dir.js';
import { withUserErrors } from '../user-errors.js';

const usage = `usage: modelgate pull <name@ref> [dir] [--concurrency n] [--piece-size bytes]

Downloads the files of a version into [dir] (default: ./<last part of name>). Files already
there with the right digest are kept; an interrupted pull resumes where it stopped.

  --concurrency n       Range requests in flight across all files (default 8)
  --piece-size bytes    size of each Range request, e.g. 16MiB (default); a resumed file
                        keeps the piece size it was started with

${clientOptionsHelp}`;

const DEFAULT_CONCURRENCY = 8;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand(argv, usage, [1, 2], { concurrency: { type: 'string' }, 'piece-size': { type: 'string' } });
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const { name, ref } = parseModelReference(positionals[0]!);
  const dir = positionals[1] ?? name.slice(name.lastIndexOf('/') + 1);
  const concurrency = parseCount(values.concurrency, 'concurrency', DEFAULT_CONCURRENCY);
  const pieceSize = parseByteSize(values['piece-size'], 'piece-size', DEFAULT_PIECE_SIZE);
  const client = clientFromOptions(values);

  const result = await withUserErrors(() => pull(client, { name, ref, dir, concurrency, pieceSize }));
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${describe(result)}\n`);
  return 0;
}

interface PullRequest {
  name: string;
  ref: string;
  dir: string;
  concurrency: number;
  pieceSize: number;
}

interface PullResult {
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
  /** Files filled by copying identical content already in place. */
  copied: number;
  /** Files already present with the right digest. */
  skipped: number;
  seconds: number;
}

async function pull(client: ModelgateClient, request: PullRequest): Promise<PullResult> {
  const started = performance.now();
  const resolution = await client.resolve(request.name, request.ref);
  checkVersionDigest(resolution);
  const root = resolvePath(request.dir);
  const planned = planTargets(root, resolution.files);
  await mkdir(root, { recursive: true });

  const inPlace = await findFilesInPlace(planned, request.concurrency);
  const work = groupByBlob(planned, inPlace);
  const copies = work.filter((w) => w.localSource !== undefined);
  const fetches = work.filter((w) => w.localSource === undefined);

  for (const w of copies) await placeFile(root, w.localSource!, w.needed.map((p) => p.target), 'copy');
  const fetched = await fetchBlobs(client, root, fetches, request);
  await removeEmptyWorkDirs(root);

  const filesIn = (ws: BlobWork[]) => ws.reduce((n, w) => n + w.needed.length, 0);
  return {
    name: resolution.name,
    ref: request.ref,
    version: resolution.version,
    digest: resolution.digest,
    dir: request.dir,
    files: planned.length,
    bytes: planned.reduce((sum, p) => sum + p.file.size, 0),
    downloaded: filesIn(fetches),
    downloadedBytes: fetched.transferred,
    resumedBytes: fetched.resumed,
    copied: filesIn(copies),
    skipped: inPlace.filter(Boolean).length,
    seconds: Math.round(performance.now() - started) / 1000,
  };
}

/** Which targets already hold the right bytes; same-size files are hashed, with a meter since that can take a while. */
async function findFilesInPlace(planned: PlannedFile[], concurrency: number): Promise<boolean[]> {
  const sameSize = await mapLimited(planned, concurrency, (p) => hasExpectedSize(p.target, p.file.size));
  const progress = startProgress('checking', planned.reduce((sum, p, i) => (sameSize[i] ? sum + p.file.size : sum), 0));
  try {
    return await mapLimited(planned, concurrency, async (p, signal, i) => sameSize[i]! && (await hasExpectedContent(p.target, hexOf(p.file.digest), (n) => progress.advance(n), signal)));
  } finally {
    progress.finish();
  }
}

interface ActiveDownload {
  work: BlobWork;
  download: PartialDownload;
  /** Pieces not yet fetched; whoever brings it to zero verifies and places the file. */
  remaining: number;
}

/**
 * Downloads every blob in `work` with one pool of Range requests across all of them, so small
 * files do not leave connections idle while a large one finishes.
 */
async function fetchBlobs(client: ModelgateClient, root: string, work: BlobWork[], request: PullRequest): Promise<{ transferred: number; resumed: number }> {
  const downloads: ActiveDownload[] = [];
  for (const w of work) {
    const download = await openPartialDownload(root, w.digest, w.size, request.pieceSize);
    downloads.push({ work: w, download, remaining: download.missing.length });
  }
  const finish = (d: ActiveDownload) =>
    finishPartialDownload(root, d.download, d.work.needed.map((p) => p.target), d.work.needed.map((p) => p.file.path));

  const total = work.reduce((sum, w) => sum + w.size, 0);
  const resumed = downloads.reduce((sum, d) => sum + d.download.resumedBytes, 0);
  const progress = startProgress('downloading', total, { initial: resumed });
  try {
    // Empty blobs and blobs finished by an earlier pull have no pieces left: only verification.
    await mapLimited(downloads.filter((d) => d.remaining === 0), request.concurrency, (d) => finish(d));
    const pieces = downloads.flatMap((owner) => owner.download.missing.map((piece) => ({ owner, piece })));
    await mapLimited(pieces, request.concurrency, async ({ owner, piece }, signal) => {
      await downloadPiece(client, owner.download, piece, progress, signal);
      if (--owner.remaining === 0) await finish(owner);
    });
  } finally {
    progress.finish();
  }
  // Every missing piece arrived exactly once (failed attempts do not count), so this is what crossed the network.
  return { transferred: total - resumed, resumed };
}

/** The file list must be the one the version digest names; otherwise the answer was altered or garbled. */
function checkVersionDigest(resolution: Resolution): void {
  const computed = versionDigest(sortFiles(resolution.files));
  if (computed !== resolution.digest) {
    throw new CliError(`the file list of ${resolution.name}@v${resolution.version} hashes to ${computed}, not its version digest ${resolution.digest}`);
  }
}

function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

function describe(r: PullResult): string {
  const parts = [`${count(r.files, 'file')} (${formatBytes(r.bytes)})`, `${r.downloaded} downloaded (${formatBytes(r.downloadedBytes)}${r.resumedBytes ? `, ${formatBytes(r.resumedBytes)} resumed` : ''})`];
  if (r.copied) parts.push(`${r.copied} copied`);
  parts.push(`${r.skipped} already in place`);
  return `pulled ${r.name}@${r.ref} (v${r.version}, ${r.digest}) into ${r.dir}: ${parts.join(', ')}, in ${formatDuration(r.seconds * 1000)}`;
}
