// HEAD/GET /{repo_id}/resolve/{revision}/{path}: a file of a version, the way hf_hub_download
// fetches it. The HEAD that huggingface_hub sends first (get_hf_file_metadata) reads the commit
// from X-Repo-Commit, the etag from X-Linked-Etag (else ETag) and the size from X-Linked-Size (else
// Content-Length). The Hub answers that HEAD for large files with a 302 to its CDN; the client
// follows only relative redirects on HEAD and otherwise takes the URL it asked as the download
// location, so a direct 200 carrying the same X-Linked-* headers works and saves a round trip.
// HEAD is answered from the index (the size comes from the file list): no stat, no open.
import { filePathProblem, isModelName } from '../../../domain/names.js';
import type { AppContext } from '../../app-context.js';
import { serveBytes } from '../../download.js';
import type { Exchange } from '../../exchange.js';
import { countDownload, fleetCaller } from '../../fleet-caller.js';
import { guard } from '../../guard.js';
import { methodNotAllowed } from '../../route-errors.js';
import { IMMUTABLE } from '../blobs.js';
import { entryNotFound } from './errors.js';
import type { ResolveTarget } from './hf-paths.js';
import { assertRepo, resolveRevision } from './revision.js';

export async function resolveFile(ctx: AppContext, x: Exchange, target: ResolveTarget): Promise<void> {
  x.route = 'hf.resolve';
  if (x.method !== 'GET' && x.method !== 'HEAD') methodNotAllowed(x, ['GET', 'HEAD']);
  const { name, revision, path } = target;
  const principal = guard(ctx, x, 'reader', isModelName(name) ? name : null, 'file download');
  const caller = fleetCaller(ctx, x, principal);
  assertRepo(ctx, name);
  const { resolution, commit, mutable } = resolveRevision(ctx, name, revision);
  const file = filePathProblem(path) === null ? resolution.files.get(path) : undefined;
  if (!file) throw entryNotFound(name, revision, path, commit);
  const hex = file.digest.slice('sha256:'.length);
  const etag = `"${hex}"`;
  const bytes = await serveBytes(
    x,
    {
      size: file.size,
      etag,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Cache-Control': mutable ? 'no-cache' : IMMUTABLE,
        'X-Repo-Commit': commit,
        'X-Linked-Etag': etag,
        'X-Linked-Size': String(file.size),
        'X-Model-Version': String(resolution.version.version),
        'X-Model-Digest': resolution.version.digest,
      },
      open: () => ctx.blobs.open(file.digest),
    },
    ctx.socketSend,
  );
  const { version, digest } = resolution.version;
  countDownload(ctx, x, caller, { model: name, version, digest }, bytes);
}
