// Splitting Hub URLs. A repo id is the model name, one or two segments (`model`, `team/model`),
// sent unencoded; the revision arrives percent-encoded (`refs%2Fheads%2Fx`), and so may a tree's
// sub-path (the client quotes it whole). A file path keeps its `/` but other characters are
// percent-encoded. Where a URL reads two ways (a model whose last segment is `resolve`, `tree` or
// `revision`), the two-segment reading wins if that model exists.
import type { AppContext } from '../../app-context.js';
import { decode } from '../../paths.js';

export interface ResolveTarget {
  name: string;
  revision: string;
  path: string;
}

export type ApiTarget =
  | { kind: 'info'; name: string; revision: string | null }
  | { kind: 'tree'; name: string; revision: string; path: string }
  | { kind: 'preupload'; name: string; revision: string }
  | { kind: 'commit'; name: string; revision: string };

const exists = (ctx: AppContext, name: string) => ctx.registry.findModel(name) !== undefined;

function repoName(segments: string[], k: number): string {
  return segments.slice(0, k).map(decode).join('/');
}

/** `/{repo_id}/resolve/{revision}/{path}`, or null if the URL is not of that form. */
export function parseResolvePath(ctx: AppContext, urlPath: string): ResolveTarget | null {
  const segments = urlPath.slice(1).split('/');
  const fits = (k: number) => segments[k] === 'resolve' && segments.length >= k + 3;
  let k: number;
  if (fits(1) && fits(2)) k = exists(ctx, repoName(segments, 2)) ? 2 : 1;
  else if (fits(1)) k = 1;
  else if (fits(2)) k = 2;
  else return null;
  return {
    name: repoName(segments, k),
    revision: decode(segments[k + 1]!),
    path: decode(segments.slice(k + 2).join('/')),
  };
}

/**
 * What follows `/api/models/`: `{repo_id}`, `{repo_id}/revision/{revision}`,
 * `{repo_id}/tree/{revision}[/{path}]`, or the write API's `{repo_id}/preupload/{revision}` and
 * `{repo_id}/commit/{revision}`; null for anything else.
 */
export function parseApiPath(ctx: AppContext, rest: string): ApiTarget | null {
  const segments = rest.split('/');
  const read = (k: number): ApiTarget | null => {
    if (segments.length < k) return null;
    const name = repoName(segments, k);
    if (segments.length === k) return { kind: 'info', name, revision: null };
    if (segments[k] === 'revision' && segments.length === k + 2 && segments[k + 1] !== '') {
      return { kind: 'info', name, revision: decode(segments[k + 1]!) };
    }
    const verb = segments[k];
    if ((verb === 'preupload' || verb === 'commit') && segments.length === k + 2 && segments[k + 1] !== '') {
      const revision = decode(segments[k + 1]!);
      return verb === 'commit' ? { kind: 'commit', name, revision } : { kind: 'preupload', name, revision };
    }
    if (segments[k] === 'tree' && segments.length >= k + 2 && segments[k + 1] !== '') {
      const path = decode(segments.slice(k + 2).join('/')).replace(/^\/+|\/+$/g, '');
      return { kind: 'tree', name, revision: decode(segments[k + 1]!), path };
    }
    return null;
  };
  // An encoded `team%2Fmodel` is the whole repo id in one segment.
  const one = read(1);
  const two = decode(segments[0]!).includes('/') ? null : read(2);
  if (one && two) return exists(ctx, two.name) ? two : one;
  return one ?? two;
}
