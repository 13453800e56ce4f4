// GET/HEAD /v1/models/{name}@{ref}/files/{path}: a version's file by its path.
import { notFound } from '../../domain/errors.js';
import { assertFilePath, parseReference } from '../../domain/names.js';
import type { AppContext } from '../app-context.js';
import type { Exchange } from '../exchange.js';
import { countDownload, fleetCaller } from '../fleet-caller.js';
import { guard } from '../guard.js';
import { decode } from '../paths.js';
import { IMMUTABLE, serveBlob } from './blobs.js';
import { methodNotAllowed, routeNotFound } from '../route-errors.js';

export async function fileRoute(ctx: AppContext, x: Exchange, rest: string): Promise<void> {
  x.route = 'files.download';
  const marker = rest.indexOf('/files/');
  if (marker < 0) routeNotFound(x);
  if (x.method !== 'GET' && x.method !== 'HEAD') methodNotAllowed(x, ['GET', 'HEAD']);
  const { name, ref, parsed } = parseReference(decode(rest.slice(0, marker)));
  const path = assertFilePath(decode(rest.slice(marker + '/files/'.length)));
  const principal = guard(ctx, x, 'reader', name, 'file download');
  const caller = fleetCaller(ctx, x, principal);
  const resolution = ctx.registry.resolveOrThrow(name, ref);
  const file = resolution.files.get(path);
  if (!file) throw notFound('FILE_NOT_FOUND', `${name}@${ref} has no file "${path}"`);
  // A file reached through an alias can change when the alias moves; through v<N> or a digest it cannot.
  const cacheControl = parsed.kind === 'alias' ? 'no-cache' : IMMUTABLE;
  const bytes = await serveBlob(ctx, x, file.digest, file.size, cacheControl, {
    'X-Model-Version': String(resolution.version.version),
    'X-Model-Digest': resolution.version.digest,
  });
  const { version, digest } = resolution.version;
  countDownload(ctx, x, caller, { model: name, version, digest }, bytes);
}
