// GET /api/models/{repo_id}[/revision/{revision}] (model_info / repo_info) and
// GET /api/models/{repo_id}/tree/{revision}[/{path}] (list_repo_tree).
//
// snapshot_download asks repo_info for the revision's `sha` (the commit it then downloads every
// file at) and, in older clients, the file list from `siblings[].rfilename`; newer clients list
// the files with list_repo_tree(recursive=True) at that commit instead. The tree is paged the way
// the Hub pages it: a `Link: <absolute url>; rel="next"` header the client follows as is. The next
// link names the commit, not the alias, so a listing stays on one version even if the alias moves
// between pages; its cursor is the last (path, kind) sent.
import { badRequest } from '../../../domain/errors.js';
import type { Model } from '../../../domain/types.js';
import { isModelName } from '../../../domain/names.js';
import type { AppContext } from '../../app-context.js';
import type { Exchange } from '../../exchange.js';
import { guard } from '../../guard.js';
import { parseLimit } from '../../paths.js';
import { methodNotAllowed } from '../../route-errors.js';
import { entryNotFound, HfError } from './errors.js';
import type { ApiTarget } from './hf-paths.js';
import { assertRepo, DEFAULT_REVISION, resolveRevision, type Revision } from './revision.js';
import { lowerBound, nodeRank, treeIndex, type TreeNode } from './tree-index.js';

export const API_MODELS_PREFIX = '/api/models/';
const DEFAULT_PAGE = 1000;
const MAX_PAGE = 10_000;

/** Where the client reached us, for absolute `Link` URLs (read before the handler's first await). */
export interface Origin {
  /** `http://host:port`, or '' when the request named no usable host (links are then relative). */
  base: string;
}

export function apiModels(ctx: AppContext, x: Exchange, target: Extract<ApiTarget, { kind: 'info' | 'tree' }>, origin: Origin): void {
  if (x.method !== 'GET' && x.method !== 'HEAD') methodNotAllowed(x, ['GET', 'HEAD']);
  x.route = target.kind === 'tree' ? 'hf.tree' : 'hf.model';
  const { name } = target;
  guard(ctx, x, 'reader', isModelName(name) ? name : null, target.kind === 'tree' ? 'file listing' : 'model');
  assertRepo(ctx, name);
  const model = ctx.registry.findModel(name)!;
  if (target.kind === 'info') {
    if (target.revision === null) {
      // The repo itself: its default revision, or a model with no versions yet (an empty repo).
      let rev: Revision | null = null;
      try {
        rev = resolveRevision(ctx, name, DEFAULT_REVISION);
      } catch (err) {
        if (!(err instanceof HfError)) throw err;
      }
      reply(x, modelInfo(model, rev), rev);
      return;
    }
    const rev = resolveRevision(ctx, name, target.revision);
    reply(x, modelInfo(model, rev), rev);
    return;
  }
  listTree(ctx, x, target.revision, target.path, name, origin);
}

function reply(x: Exchange, body: unknown, rev: Revision | null, headers: Record<string, string> = {}): void {
  const buffer = Buffer.from(JSON.stringify(body));
  const all = {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache',
    ...(rev ? { 'X-Repo-Commit': rev.commit } : {}),
    ...headers,
  };
  if (x.method === 'HEAD') x.send(200, null, all, buffer.length);
  else x.send(200, buffer, all);
}

function modelInfo(model: Model, rev: Revision | null): Record<string, unknown> {
  const slash = model.name.indexOf('/');
  const info: Record<string, unknown> = {
    id: model.name,
    modelId: model.name,
    author: slash > 0 ? model.name.slice(0, slash) : model.owner,
    private: false,
    gated: false,
    disabled: false,
    downloads: 0,
    likes: 0,
    tags: model.tags,
    createdAt: model.createdAt,
    lastModified: model.updatedAt,
    siblings: [],
  };
  if (!rev) return info;
  const version = rev.resolution.version;
  // A stack lists its closure: own files, then each component's under `<component>/`, as a pull lays it out.
  const index = treeIndex(version.digest, rev.resolution.closure ?? version.files);
  info.sha = rev.commit;
  info.lastModified = version.createdAt;
  info.usedStorage = version.size;
  for (const key of ['library_name', 'pipeline_tag']) {
    if (typeof version.metadata[key] === 'string') info[key] = version.metadata[key];
  }
  if (Object.keys(version.card).length > 0) info.cardData = { ...version.card };
  info.siblings = index.files.map((f) => ({
    rfilename: f.path,
    size: f.size,
    blobId: f.oid,
    lfs: { sha256: f.lfs.oid, size: f.lfs.size, pointerSize: f.lfs.pointerSize },
  }));
  info.modelgate = {
    name: model.name,
    version: version.version,
    digest: version.digest,
    status: version.status,
    ...(rev.resolution.alias ? { alias: rev.resolution.alias } : {}),
  };
  return info;
}

function flag(text: string): boolean {
  return text === '1' || text.toLowerCase() === 'true';
}

function listTree(ctx: AppContext, x: Exchange, revision: string, sub: string, name: string, origin: Origin): void {
  const rev = resolveRevision(ctx, name, revision);
  const version = rev.resolution.version;
  const files = rev.resolution.closure ?? version.files;
  const index = treeIndex(version.digest, files);
  const recursive = flag(x.param('recursive'));
  const expand = flag(x.param('expand'));
  const limit = parseLimit(x.param('limit'), DEFAULT_PAGE, MAX_PAGE);
  const cursor = decodeCursor(x.param('cursor'));

  // The range of nodes to list: a slice of `all` (recursive) or a directory's children.
  const children = index.children.get(sub);
  if (sub !== '' && !children) {
    const isFile = files.some((f) => f.path === sub);
    throw entryNotFound(name, revision, sub, rev.commit, isFile ? 'directory (it is a file)' : 'directory');
  }
  let list: readonly TreeNode[];
  let from: number;
  let to: number;
  if (recursive) {
    list = index.all;
    from = sub === '' ? 0 : lowerBound(list, `${sub}/`, 0);
    to = sub === '' ? list.length : lowerBound(list, `${sub}0`, 0); // '0' follows '/': the end of "sub/…"
  } else {
    list = children!;
    from = 0;
    to = list.length;
  }
  if (cursor) from = Math.max(from, lowerBound(list, cursor.path, cursor.rank, true));
  const end = Math.min(to, from + limit);
  const lastCommit = expand ? { id: rev.commit, title: `${name}@v${version.version}`, date: version.createdAt } : null;
  const page = [];
  for (let i = from; i < end; i++) page.push(entry(list[i]!, lastCommit));

  const headers: Record<string, string> = {};
  if (end < to) {
    const last = list[end - 1]!;
    const params = new URLSearchParams(x.query);
    params.set('cursor', encodeCursor(last.path, nodeRank(last)));
    const subPath = sub === '' ? '' : `/${encodeURIComponent(sub)}`;
    headers.Link = `<${origin.base}${API_MODELS_PREFIX}${name}/tree/${rev.commit}${subPath}?${params.toString()}>; rel="next"`;
  }
  reply(x, page, rev, headers);
}

function entry(node: TreeNode, lastCommit: Record<string, unknown> | null): Record<string, unknown> {
  const out: Record<string, unknown> =
    node.type === 'file'
      ? { type: 'file', oid: node.oid, size: node.size, path: node.path, lfs: { ...node.lfs } }
      : { type: 'directory', oid: node.oid, size: 0, path: node.path };
  if (lastCommit) out.lastCommit = lastCommit;
  return out;
}

// A cursor is the last node sent: its kind ('d' sorts before 'f' at the same path) and its path.
function encodeCursor(path: string, rank: number): string {
  return Buffer.from(`${rank === 0 ? 'd' : 'f'}${path}`).toString('base64url');
}

function decodeCursor(text: string): { path: string; rank: number } | null {
  if (text === '') return null;
  const raw = /^[A-Za-z0-9_-]+$/.test(text) ? Buffer.from(text, 'base64url').toString('utf8') : '';
  const kind = raw[0];
  if (kind !== 'd' && kind !== 'f') throw badRequest('CURSOR_INVALID', `invalid cursor "${text.slice(0, 80)}"`);
  return { path: raw.slice(1), rank: kind === 'd' ? 0 : 1 };
}
