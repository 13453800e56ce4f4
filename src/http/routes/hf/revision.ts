// Hugging Face revisions in modelgate terms. A Hub "commit" is a modelgate version: its commit id
// is the first 40 hex digits of the version digest (sha256 over the file list), so it names that
// version for good, on every node, and never collides with git's own 40-hex look.
//
// A revision is, in this order:
// - 40 lowercase hex: a commit id (never an alias, even if an alias happened to look like one —
//   the client caches a 40-hex revision as immutable, so it must never move);
// - `refs/heads/<x>` or `refs/tags/<x>` (git-style full names): taken as `<x>`;
// - `main`, the client's default: the alias `main` if the model has one, else its newest version;
// - an alias (`production`), `v<N>`, or a version digest `sha256:<64 hex>`.
import { isModelName, parseRef } from '../../../domain/names.js';
import type { Resolution } from '../../../domain/resolution.js';
import type { Version } from '../../../domain/types.js';
import type { AppContext } from '../../app-context.js';
import { HfError, repoNotFound, revisionNotFound } from './errors.js';

const COMMIT_ID = /^[0-9a-f]{40}$/;
const DIGEST_PREFIX = 'sha256:'.length;
export const DEFAULT_REVISION = 'main';

export function commitId(version: Version): string {
  return version.digest.slice(DIGEST_PREFIX, DIGEST_PREFIX + 40);
}

export function isCommitId(revision: string): boolean {
  return COMMIT_ID.test(revision);
}

/** Throws RepoNotFound unless `name` is a model that exists. */
export function assertRepo(ctx: AppContext, name: string): void {
  if (!isModelName(name)) throw repoNotFound(name, 'name is not valid (lowercase "model" or "team/model")');
  if (!ctx.registry.findModel(name)) throw repoNotFound(name);
}

export interface Revision {
  resolution: Resolution;
  commit: string;
  /** Through an alias (or `main`), so the answer can change; a commit id or v<N> cannot. */
  mutable: boolean;
}

/** Resolves a revision of an existing model, or throws RevisionNotFound. */
export function resolveRevision(ctx: AppContext, name: string, revision: string): Revision {
  let rev = revision;
  for (const prefix of ['refs/heads/', 'refs/tags/']) {
    if (rev.startsWith(prefix)) {
      rev = rev.slice(prefix.length);
      break;
    }
  }
  if (isCommitId(rev)) {
    const version = ctx.registry.findVersionByDigestPrefix(name, rev);
    const resolution = version && ctx.registry.resolve(name, `v${version.version}`);
    if (!resolution) throw revisionNotFound(name, revision, 'is not the commit id of any version of this model');
    return { resolution, commit: rev, mutable: false };
  }
  if (rev === DEFAULT_REVISION) {
    const resolution = ctx.registry.resolve(name, DEFAULT_REVISION) ?? newest(ctx, name);
    if (!resolution) throw revisionNotFound(name, revision, 'does not exist: the model has no versions yet');
    return { resolution, commit: commitId(resolution.version), mutable: true };
  }
  let kind: string;
  try {
    kind = parseRef(rev).kind;
  } catch {
    throw revisionNotFound(name, revision, 'is not an alias, v<N>, main, a commit id or a version digest');
  }
  const resolution = ctx.registry.resolve(name, rev);
  if (!resolution)
    throw revisionNotFound(name, revision, kind === 'alias' ? 'is not an alias of this model' : 'is not a version of this model');
  return { resolution, commit: commitId(resolution.version), mutable: kind === 'alias' };
}

/** The newest version that still exists (versions may have been deleted by retention). */
function newest(ctx: AppContext, name: string): Resolution | null {
  const model = ctx.registry.findModel(name);
  for (let n = model?.latestVersion ?? 0; n >= 1; n--) {
    const found = ctx.registry.resolve(name, `v${n}`);
    if (found) return found;
  }
  return null;
}

/** Where a commit lands: the alias it moves (none for `main` without a `main` alias) and the version it starts from. */
export interface CommitTarget {
  alias: string | null;
  /** The version the revision names now, whose files the commit's operations apply to; null for a model with no versions. */
  base: Version | null;
}

/**
 * A revision a commit may land on, like a Hub branch: `main` (the alias `main` if the model has
 * one, else the newest version, so a commit there registers a version and moves nothing), or an
 * alias the model has, which the commit moves through the registry's gate. A commit id, v<N> or a
 * digest names one version for good and is not a branch (400).
 */
export function commitTarget(ctx: AppContext, name: string, revision: string): CommitTarget {
  const rev = revision.startsWith('refs/heads/') ? revision.slice('refs/heads/'.length) : revision;
  if (rev === DEFAULT_REVISION) {
    const alias = ctx.registry.resolve(name, DEFAULT_REVISION);
    if (alias) return { alias: DEFAULT_REVISION, base: alias.version };
    return { alias: null, base: newest(ctx, name)?.version ?? null };
  }
  let kind: string;
  try {
    kind = isCommitId(rev) ? 'commit' : parseRef(rev).kind;
  } catch {
    throw revisionNotFound(name, revision, 'is not main or an alias of this model');
  }
  if (kind !== 'alias') {
    throw new HfError(400, null, `cannot commit to "${revision}": it names one version for good; commit to main or an alias`);
  }
  const resolution = ctx.registry.resolve(name, rev);
  if (!resolution) throw revisionNotFound(name, revision, 'is not an alias of this model (commit to main, or set the alias first)');
  return { alias: rev, base: resolution.version };
}
