// GET/HEAD /v2/{name}/blobs/{digest}: bytes by digest, with Range, for callers who may read them
// through this repository.
import type { Principal } from '../../../domain/principal.js';
import { scopeMatches } from '../../../auth/scope.js';
import type { BlobReader } from '../../../blobs/blob-store.js';
import { ociError } from '../../errors/oci-dialect.js';
import { EMPTY_JSON, EMPTY_JSON_DIGEST } from '../../../oci/media-types.js';
import { assertDigest, assertModelName } from '../../../domain/names.js';
import type { AppContext } from '../../app-context.js';
import { serveBytes } from '../../download.js';
import type { Exchange } from '../../exchange.js';
import { countDownload, fleetCaller } from '../../fleet-caller.js';
import { guard } from '../../guard.js';
import { IMMUTABLE, serveBlob } from '../blobs.js';
import type { OciState } from './state.js';

/**
 * Whether `digest` can be read through repository `name`. Blobs are shared between models, so
 * (as on /v1/blobs) a token scoped to "*" reads any blob, and a narrower token only blobs that a
 * version of this model lists, this model's pushed manifests and their configs. The empty JSON
 * `{}` of the empty descriptor is public.
 */
export function blobVisible(ctx: AppContext, principal: Principal, name: string, digest: string): boolean {
  if (digest === EMPTY_JSON_DIGEST) return true;
  if (principal.scope === '*') return true;
  if (!scopeMatches(principal.scope, name)) return false;
  // Pushed manifests and their configs are referenced by their version, as its files are.
  return ctx.registry.blobReferences(digest).some((r) => r.name === name) || ctx.registry.blobInStackOf(name, digest);
}

export async function getBlob(ctx: AppContext, state: OciState, x: Exchange, name: string, digestText: string): Promise<void> {
  x.route = 'oci.blob.get';
  const principal = guard(ctx, x, 'reader', name, 'blob download');
  assertModelName(name);
  const digest = assertDigest(digestText);
  if (digest === EMPTY_JSON_DIGEST) {
    await serveMemory(x, digest, EMPTY_JSON);
    return;
  }
  // The config of a generated ModelPack manifest is made with it, not stored (guard checked the scope).
  const config = state.generatedConfig(name, digest);
  if (config) {
    await serveMemory(x, digest, config);
    return;
  }
  if (!blobVisible(ctx, principal, name, digest)) throw unknownBlob(name, digest);
  const caller = fleetCaller(ctx, x, principal);
  const bytes = await serveBlob(ctx, x, digest, ctx.registry.registeredBlobSize(digest), IMMUTABLE);
  countDownload(ctx, x, caller, { blob: digest, model: name, visible: () => true }, bytes);
}

export function unknownBlob(name: string, digest: string) {
  return ociError(404, 'BLOB_UNKNOWN', `blob ${digest} is unknown to repository ${name}`, { digest });
}

/** Small constant blobs are served from memory, with the same Range handling as stored ones. */
export function serveMemory(x: Exchange, digest: string, bytes: Buffer): Promise<number> {
  return serveBytes(x, {
    size: bytes.length,
    etag: `"${digest.slice('sha256:'.length)}"`,
    headers: { 'Content-Type': 'application/octet-stream', 'Cache-Control': IMMUTABLE, 'Docker-Content-Digest': digest },
    open: async () => memoryReader(bytes),
  });
}

function memoryReader(bytes: Buffer): BlobReader {
  return {
    size: bytes.length,
    async read(buffer, offset, length, position) {
      return bytes.copy(buffer, offset, position, Math.min(bytes.length, position + length));
    },
    async close() {},
  };
}
