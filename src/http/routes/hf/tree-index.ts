// A version's file list as a Hub repository tree: files and the directories their paths imply.
//
// Every file is presented as a Git LFS file, which is what it is in spirit (content-addressed by
// sha256, stored outside any git object store): `lfs.oid` is its sha256, and its git blob id (`oid`
// in the tree, `blobId` in siblings) is the git sha1 of the LFS pointer file for it, exactly as a
// git-lfs repository would hold it. Clients that verify downloads therefore check sha256, the
// digest modelgate itself guarantees. A directory's `oid` is a sha1 over the paths and digests
// below it, so it changes only when its contents do (as a git tree id would).
//
// Versions never change, so an index is built once per version digest and kept in a small LRU.
import { createHash } from 'node:crypto';
import type { FileEntry } from '../../../domain/types.js';

export interface LfsInfo {
  oid: string;
  size: number;
  pointerSize: number;
}

export interface FileNode {
  type: 'file';
  path: string;
  size: number;
  oid: string;
  lfs: LfsInfo;
}

export interface DirNode {
  type: 'directory';
  path: string;
  size: 0;
  oid: string;
}

export type TreeNode = FileNode | DirNode;

export interface TreeIndex {
  /** Every node, sorted by (path, directory before file). */
  all: TreeNode[];
  /** Direct children of each directory ('' is the root), in the same order. */
  children: Map<string, TreeNode[]>;
  files: FileNode[];
}

const MAX_CACHED = 64;
const cache = new Map<string, TreeIndex>();

/** The index of a version's files, built on first use. */
export function treeIndex(versionDigest: string, files: readonly FileEntry[]): TreeIndex {
  const hit = cache.get(versionDigest);
  if (hit) {
    cache.delete(versionDigest);
    cache.set(versionDigest, hit);
    return hit;
  }
  const built = build(files);
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(versionDigest, built);
  return built;
}

const rank = (node: TreeNode) => (node.type === 'directory' ? 0 : 1);

export function compareKey(aPath: string, aRank: number, bPath: string, bRank: number): number {
  if (aPath < bPath) return -1;
  if (aPath > bPath) return 1;
  return aRank - bRank;
}

function compare(a: TreeNode, b: TreeNode): number {
  return compareKey(a.path, rank(a), b.path, rank(b));
}

/** The text of the Git LFS pointer file for a blob. */
export function lfsPointer(hex: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${hex}\nsize ${size}\n`;
}

/** Git's blob id for some content: sha1 over "blob <length>\0<content>". */
export function gitBlobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

function build(entries: readonly FileEntry[]): TreeIndex {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const files: FileNode[] = [];
  const dirHashes = new Map<string, ReturnType<typeof createHash>>();
  for (const entry of sorted) {
    const hex = entry.digest.slice('sha256:'.length);
    const pointer = Buffer.from(lfsPointer(hex, entry.size));
    files.push({
      type: 'file',
      path: entry.path,
      size: entry.size,
      oid: gitBlobId(pointer),
      lfs: { oid: hex, size: entry.size, pointerSize: pointer.length },
    });
    for (let slash = entry.path.indexOf('/'); slash > 0; slash = entry.path.indexOf('/', slash + 1)) {
      const dir = entry.path.slice(0, slash);
      let hash = dirHashes.get(dir);
      if (!hash) dirHashes.set(dir, (hash = createHash('sha1')));
      hash.update(`${entry.path.slice(slash + 1)}\0${entry.digest}\n`);
    }
  }
  const all: TreeNode[] = [...files];
  for (const [path, hash] of dirHashes) all.push({ type: 'directory', path, size: 0, oid: hash.digest('hex') });
  all.sort(compare);
  const children = new Map<string, TreeNode[]>([['', []]]);
  for (const node of all) {
    if (node.type === 'directory' && !children.has(node.path)) children.set(node.path, []);
  }
  for (const node of all) {
    const slash = node.path.lastIndexOf('/');
    children.get(slash < 0 ? '' : node.path.slice(0, slash))!.push(node);
  }
  return { all, children, files };
}

/** First index in `list` (sorted) whose key is at or after (path, rank); `after` makes it strictly after. */
export function lowerBound(list: readonly TreeNode[], path: string, keyRank: number, after = false): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKey(list[mid]!.path, rank(list[mid]!), path, keyRank);
    if (c < 0 || (after && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export { rank as nodeRank };
