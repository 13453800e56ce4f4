// Listing the files of a model directory: regular files only, in a stable order, with the
// relative `/`-separated paths the registry stores. Symlinks are skipped (not followed) so a push
// never uploads something outside the directory by accident.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { filePathProblem } from '../../domain/names.js';
import { CliError } from '../cli-error.js';
import { WORK_DIR_NAME } from '../pull/work-dir.js';

export interface LocalFile {
  /** Relative path with `/` separators, as registered. */
  path: string;
  absolutePath: string;
  size: number;
}

export interface SkippedEntry {
  path: string;
  reason: string;
}

export interface ModelDirListing {
  files: LocalFile[];
  skipped: SkippedEntry[];
}

export async function walkModelDir(root: string): Promise<ModelDirListing> {
  const listing: ModelDirListing = { files: [], skipped: [] };
  await walk(root, '', listing);
  // The same order the registry sorts by, so listings and output are reproducible.
  listing.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return listing;
}

async function walk(absoluteDir: string, relativeDir: string, listing: ModelDirListing): Promise<void> {
  const entries = await readdir(absoluteDir, { withFileTypes: true });
  for (const entry of entries) {
    const path = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
    const absolutePath = join(absoluteDir, entry.name);
    if (entry.isSymbolicLink()) {
      listing.skipped.push({ path, reason: 'symlink' });
    } else if (entry.isDirectory()) {
      if (path === WORK_DIR_NAME) listing.skipped.push({ path, reason: "modelgate's own download state" });
      else await walk(absolutePath, path, listing);
    } else if (entry.isFile()) {
      const problem = filePathProblem(path);
      if (problem) throw new CliError(`cannot push "${path}": ${problem}`);
      listing.files.push({ path, absolutePath, size: (await stat(absolutePath)).size });
    } else {
      listing.skipped.push({ path, reason: 'not a regular file' });
    }
  }
}
