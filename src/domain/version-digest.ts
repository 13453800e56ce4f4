import { createHash } from 'node:crypto';

export interface FileEntry {
  path: string;
  size: number;
  digest: string;
}

/** Files sorted by path, compared by UTF-16 code units like JSON keys, so the order is stable everywhere. */
export function sortFiles(files: readonly FileEntry[]): FileEntry[] {
  return files
    .map((f) => ({ path: f.path, size: f.size, digest: f.digest }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The version digest: sha256 over the canonical JSON of the sorted file list, each entry with its
 * keys in the fixed order path, size, digest and no whitespace. Anyone can recompute it.
 */
export function versionDigest(sortedFiles: readonly FileEntry[]): string {
  const canonical = JSON.stringify(sortedFiles.map((f) => ({ path: f.path, size: f.size, digest: f.digest })));
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}
