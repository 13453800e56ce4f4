// What the registry holds for a manifest reference: the manifest a tag or digest names (pushed,
// attached or generated) with the version it stands for, and the check that every blob a pushed
// manifest names is stored with the size it states. Shared by the manifest routes and referrers.
import { assertModelName } from '../../../domain/names.js';
import { ociError } from '../../errors/oci-dialect.js';
import type { ParsedManifest } from '../../../oci/manifest.js';
import { referencedBlobs } from '../../../oci/manifest.js';
import { EMPTY_JSON, EMPTY_JSON_DIGEST } from '../../../oci/media-types.js';
import type { AppContext } from '../../app-context.js';
import type { ManifestRef } from './protocol.js';
import type { OciState } from './state.js';

/** A valid model name this registry holds, else NAME_INVALID (400) or NAME_UNKNOWN (404) in the spec's terms. */
export function assertRepository(ctx: AppContext, name: string): void {
  assertModelName(name);
  if (!ctx.registry.findModel(name)) throw ociError(404, 'NAME_UNKNOWN', `repository ${name} is unknown`, { name });
}

export interface Served {
  mediaType: string;
  digest: string;
  bytes: Buffer;
  /** The registered version the manifest stands for (what fleet telemetry counts it under). */
  version: { version: number; digest: string };
}

export function unknownManifest(name: string, reference: string): never {
  throw ociError(404, 'MANIFEST_UNKNOWN', `manifest ${name}:${reference} is unknown`, { name, reference });
}

/** The manifest a reference names, and the version it stands for; MANIFEST_UNKNOWN when there is none. */
export async function find(ctx: AppContext, state: OciState, name: string, reference: string, ref: ManifestRef): Promise<Served> {
  if (ref.kind === 'digest') {
    const record = ctx.registry.findManifest(name, ref.digest);
    const recorded = record ? ctx.registry.findVersion(name, record.version) : null;
    if (record && recorded) {
      const bytes = await state.bytesOf(record.digest);
      if (bytes) return { mediaType: record.mediaType, digest: record.digest, bytes, version: recorded };
    }
    const version = state.versionForGenerated(name, ref.digest);
    if (version) return { ...state.generatedFor(name, version), version };
    unknownManifest(name, reference);
  }
  if (ref.kind === 'tag') unknownManifest(name, reference);
  const resolution = ctx.registry.resolve(name, ref.tag);
  if (!resolution) unknownManifest(name, reference);
  const pushed = await state.pushedFor(name, resolution.version.version);
  if (pushed) return { mediaType: pushed.record.mediaType, digest: pushed.record.digest, bytes: pushed.bytes, version: resolution.version };
  return { ...state.generatedFor(name, resolution.version), version: resolution.version };
}

/**
 * Every blob the manifest names must be stored with the size it states, or be the config of a
 * manifest generated for a version of this model (as when a client copies that manifest back);
 * those are returned, to be stored with the manifest.
 */
export async function checkBlobs(
  ctx: AppContext,
  state: OciState,
  name: string,
  manifest: ParsedManifest,
): Promise<{ digest: string; bytes: Buffer }[]> {
  const missing: string[] = [];
  const wrongSize: { digest: string; declared: number; stored: number }[] = [];
  const generated: { digest: string; bytes: Buffer }[] = [];
  const seen = new Set<string>();
  for (const d of referencedBlobs(manifest)) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    let size = d.digest === EMPTY_JSON_DIGEST ? EMPTY_JSON.length : (await ctx.blobs.stat(d.digest))?.size;
    if (size === undefined) {
      const config = state.generatedConfig(name, d.digest);
      if (config) {
        generated.push({ digest: d.digest, bytes: config });
        size = config.length;
      }
    }
    if (size === undefined) missing.push(d.digest);
    else if (size !== d.size) wrongSize.push({ digest: d.digest, declared: d.size, stored: size });
  }
  if (missing.length > 0) {
    throw ociError(
      400,
      'MANIFEST_BLOB_UNKNOWN',
      `${missing.length} blob(s) the manifest references are unknown, first ${missing[0]}: push them before the manifest`,
      {
        digest: missing[0],
        missing,
      },
    );
  }
  if (wrongSize.length > 0) {
    const w = wrongSize[0]!;
    throw ociError(400, 'MANIFEST_INVALID', `the manifest gives blob ${w.digest} a size of ${w.declared} bytes; it has ${w.stored}`, {
      wrongSize,
    });
  }
  return generated;
}
