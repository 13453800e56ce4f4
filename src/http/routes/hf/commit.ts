// The Hub's write API for models, as huggingface_hub (`upload_file`, `upload_folder`,
// `create_commit`) and @huggingface/hub (`uploadFiles`, `commit`) use it:
//
//   POST /api/models/{repo_id}/preupload/{revision}   which files go through LFS: here, all of them
//   POST /{repo_id}.git/info/lfs/objects/batch         where to send each file's bytes (lfs.ts)
//   PUT  /v1/hub/lfs/{grant}                           the bytes, verified against their sha256 (lfs.ts)
//   POST /api/models/{repo_id}/commit/{revision}       the commit: NDJSON header + operations
//   POST /api/repos/create                             a new (empty) model (repos.ts)
//
// A commit is a version: its operations are applied to the files of the version the revision
// names (domain/hub-commit.ts) and the result is registered through the registry, as a v1
// registration is; a commit to an alias then moves that alias through the registry's gate, as any
// alias move does (a refused move leaves the version registered and says so). The commit id is the
// new version's, as the read API names it.
import { createHash } from 'node:crypto';
import { applyHubCommit, parseHubCommit, type HubOperation, type StoredOperation } from '../../../domain/hub-commit.js';
import { DomainError } from '../../../domain/errors.js';
import type { Principal } from '../../../domain/principal.js';
import type { Version } from '../../../domain/types.js';
import type { AppContext } from '../../app-context.js';
import { storeBytes } from '../../blob-intake.js';
import type { Exchange } from '../../exchange.js';
import { guard } from '../../guard.js';
import { readBody, readJson } from '../../json-body.js';
import { methodNotAllowed } from '../../route-errors.js';
import type { Origin } from './api-models.js';
import { HfError } from './errors.js';
import { assertRepo, commitId, commitTarget } from './revision.js';

/** A commit's NDJSON body: inline files travel base64 in it (preupload sends every file through LFS instead). */
export const COMMIT_MAX_BYTES = 32 * 1024 * 1024;
const MAX_PREUPLOAD_FILES = 1000;

function refusePullRequests(x: Exchange): void {
  if (x.param('create_pr') !== '' && x.param('create_pr') !== '0' && x.param('create_pr') !== 'false') {
    throw new HfError(400, null, 'pull requests are not supported: a version is reviewed through approvals before an alias serves it');
  }
}

/** POST …/preupload/{revision}: every file goes through LFS, so every file is stored by its sha256 before the commit names it. */
export async function preupload(ctx: AppContext, x: Exchange, name: string, revision: string): Promise<void> {
  if (x.method !== 'POST') methodNotAllowed(x, ['POST']);
  x.route = 'hf.preupload';
  guard(ctx, x, 'writer', name, 'Hub upload');
  refusePullRequests(x);
  assertRepo(ctx, name);
  // A revision no commit could land on (v<N>, an alias the model lacks) is refused before any upload.
  commitTarget(ctx, name, revision);
  const pending = readJson(x, ctx.config.server.maxJsonBytes);
  const body = (await pending) as { files?: unknown } | null;
  if (!Array.isArray(body?.files) || body.files.length > MAX_PREUPLOAD_FILES) {
    throw new HfError(400, null, `files: an array of at most ${MAX_PREUPLOAD_FILES} {path, size, sample} is required`);
  }
  const files = (body!.files as unknown[]).map((f: unknown, i: number) => {
    const path = (f as { path?: unknown })?.path;
    if (typeof path !== 'string' || path === '') throw new HfError(400, null, `files[${i}].path: a path is required`);
    return { path, uploadMode: 'lfs', shouldIgnore: false };
  });
  x.json(200, { files });
}

/** POST …/commit/{revision}: registers the commit's version and, on an alias, moves the alias. */
export async function commit(ctx: AppContext, x: Exchange, name: string, revision: string, origin: Origin): Promise<void> {
  if (x.method !== 'POST') methodNotAllowed(x, ['POST']);
  x.route = 'hf.commit';
  const principal = guard(ctx, x, 'writer', name, 'Hub commit');
  refusePullRequests(x);
  assertRepo(ctx, name);
  const pending = readBody(x, COMMIT_MAX_BYTES);
  const { header, operations } = parseHubCommit((await pending).toString('utf8'));
  const target = commitTarget(ctx, name, revision);
  const head = target.base ? commitId(target.base) : null;
  if (header.parentCommit !== undefined && header.parentCommit !== head) {
    throw new HfError(
      412,
      null,
      `${name}@${revision} is at ${head ?? 'no commit'}, not at the parent commit ${header.parentCommit}: fetch it and commit again`,
    );
  }
  // Inline files are hashed, the operations applied (a missing file to delete refuses the commit),
  // and only then are the inline files stored, so a refused commit stores as little as it can.
  const { entries, inline } = await entriesOf(ctx, operations);
  const files = applyHubCommit(target.base?.files ?? [], entries);
  const summary = header.summary?.trim() || `Commit to ${revision}`;
  const record = { hubCommit: { summary, ...(header.description ? { description: header.description } : {}) } };
  // The inline files are kept from a concurrent garbage collection until the version lists them.
  const release = ctx.blobGuard.pin([...inline.keys()]);
  let version: Version;
  try {
    for (const [digest, content] of inline) await storeBytes(ctx, digest, content);
    const components = target.base?.components
      ? Object.fromEntries(Object.entries(target.base.components).map(([k, pin]) => [k, `${pin.name}@v${pin.version}`]))
      : undefined;
    ({ version } = await ctx.registry.registerVersion(name, files, { metadata: record, lineage: {}, metrics: {}, card: {} }, principal, {
      ...(components ? { components } : {}),
      canRead: (model) => ctx.auth.permits(principal, 'reader', model),
    }));
  } finally {
    release();
  }
  const oid = commitId(version);
  if (target.alias === null && target.base && version.version < target.base.version) {
    // The files are an older version's (a version is its files): `main` reads the newest version and cannot go back to it.
    throw new HfError(
      409,
      null,
      `these files are ${name}@v${version.version} (commit ${oid}); main reads the newest version, v${target.base.version}, and cannot go back: ` +
        `set a "main" alias (PUT /v1/models/${name}/aliases/main) to move main between versions`,
    );
  }
  if (target.alias !== null && version.version !== target.base?.version) {
    await moveAlias(ctx, principal, name, target.alias, version.version, target.base?.version ?? null, summary, oid);
  }
  x.json(200, { success: true, commitOid: oid, commitUrl: `${origin.base}/${name}/commit/${oid}`, hookOutput: '' });
}

/**
 * The operations as file entries, inline files hashed (their bytes returned, to be stored once the
 * commit holds). An LFS file named without its size takes its stored blob's; registration refuses
 * a blob that is not stored.
 */
async function entriesOf(
  ctx: AppContext,
  operations: HubOperation[],
): Promise<{ entries: StoredOperation[]; inline: Map<string, Buffer> }> {
  const inline = new Map<string, Buffer>();
  const entries = await Promise.all(
    operations.map(async (op): Promise<StoredOperation> => {
      if (op.kind === 'file') {
        const digest = `sha256:${createHash('sha256').update(op.content).digest('hex')}`;
        inline.set(digest, op.content);
        return { kind: 'put', entry: { path: op.path, size: op.content.length, digest } };
      }
      if (op.kind === 'lfsFile') {
        const size = op.size ?? (await ctx.blobs.stat(op.digest))?.size ?? 0;
        return { kind: 'put', entry: { path: op.path, size, digest: op.digest } };
      }
      return op;
    }),
  );
  return { entries, inline };
}

async function moveAlias(
  ctx: AppContext,
  principal: Principal,
  name: string,
  alias: string,
  to: number,
  expected: number | null,
  reason: string,
  oid: string,
): Promise<void> {
  try {
    await ctx.registry.setAlias(name, alias, to, { expected, reason }, principal);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    // The version stays registered (as after `modelgate push --alias`): say so, with the refusal.
    throw new DomainError(
      err.kind,
      err.code,
      `registered ${name}@v${to} (commit ${oid}), but ${name}@${alias} was not moved: ${err.message}`,
      err.details,
    );
  }
}
