// Deciding what a pull has to do for each blob of a version: nothing (every file already in
// place), copy (one file with this content is in place, others are not), or download.
import { isDigest } from '../../domain/names.js';
import type { FileEntry } from '../../client/index.js';
import { CliError } from '../cli-error.js';
import { targetPath } from './local-target.js';

export interface PlannedFile {
  file: FileEntry;
  target: string;
}

export interface BlobWork {
  digest: string;
  size: number;
  /** Files with this content that are missing or wrong. */
  needed: PlannedFile[];
  /** A target that already holds exactly this content, when there is one: copy instead of downloading. */
  localSource?: string;
}

/** Every path and digest checked before anything is written, so a bad file list changes nothing on disk. */
export function planTargets(root: string, files: readonly FileEntry[]): PlannedFile[] {
  const seen = new Set<string>();
  return files.map((file) => {
    if (!isDigest(file.digest)) throw new CliError(`the server listed "${file.path}" with an invalid digest "${file.digest}"`);
    if (!Number.isSafeInteger(file.size) || file.size < 0)
      throw new CliError(`the server listed "${file.path}" with an invalid size ${file.size}`);
    if (seen.has(file.path)) throw new CliError(`the server listed "${file.path}" twice`);
    seen.add(file.path);
    return { file, target: targetPath(root, file.path) };
  });
}

export function groupByBlob(planned: readonly PlannedFile[], inPlace: readonly boolean[]): BlobWork[] {
  const byDigest = new Map<string, BlobWork>();
  planned.forEach((p, i) => {
    let work = byDigest.get(p.file.digest);
    if (!work) {
      work = { digest: p.file.digest, size: p.file.size, needed: [] };
      byDigest.set(p.file.digest, work);
    }
    if (inPlace[i]) work.localSource ??= p.target;
    else work.needed.push(p);
  });
  return [...byDigest.values()].filter((w) => w.needed.length > 0);
}
