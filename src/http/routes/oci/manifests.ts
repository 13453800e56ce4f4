// GET/HEAD/PUT /v2/{name}/manifests/{tag|digest}.
//
// Tags are modelgate references: an alias (`production`) or `v<N>`. A version is served as the
// manifest a client pushed for it (the latest, byte-exact) or else as a generated one. A pushed
// manifest registers a version whose files are its layers, is kept as a blob under its digest and
// recorded for the version; a push to an alias tag then moves the alias through the same role
// check, policy gates and audit as PUT /v1/models/{name}/aliases/{alias}.
import type { Role } from '../../../domain/principal.js';
import { forbidden } from '../../../domain/errors.js';
import { ociError } from '../../errors/oci-dialect.js';
import {
  type Descriptor,
  kitfileLayerPaths,
  layerFiles,
  manifestMetadata,
  MAX_KITFILE_BYTES,
  MAX_MANIFEST_BYTES,
  parseManifest,
  referencedBlobs,
  type ParsedManifest,
} from '../../../oci/manifest.js';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, KITOPS_CONFIG } from '../../../oci/media-types.js';
import { accepts, parseManifestRef, type ManifestRef } from './protocol.js';
import { assertModelName, isAlias } from '../../../domain/names.js';
import type { FileEntry, Version } from '../../../domain/types.js';
import { sortFiles, versionDigest } from '../../../domain/version-digest.js';
import type { AppContext } from '../../app-context.js';
import type { Exchange } from '../../exchange.js';
import { fleetCaller, type FleetCaller } from '../../fleet-caller.js';
import { guard } from '../../guard.js';
import { receiveBody } from '../../receive.js';
import { IMMUTABLE } from '../blobs.js';
import { API_VERSION, sendEmpty } from './respond.js';
import { storeBytes } from '../../blob-intake.js';
import type { OciState } from './state.js';

interface Served {
  mediaType: string;
  digest: string;
  bytes: Buffer;
  /** The registered version the manifest stands for (what fleet telemetry counts it under). */
  version: { version: number; digest: string };
}

function unknownManifest(name: string, reference: string): never {
  throw ociError(404, 'MANIFEST_UNKNOWN', `manifest ${name}:${reference} is unknown`, { name, reference });
}

export async function getManifest(
  ctx: AppContext,
  state: OciState,
  x: Exchange,
  name: string,
  reference: string,
  accept: string,
): Promise<void> {
  x.route = 'oci.manifest.get';
  const principal = guard(ctx, x, 'reader', name, 'manifest');
  assertModelName(name);
  const caller = fleetCaller(ctx, x, principal);
  if (!ctx.registry.findModel(name)) throw ociError(404, 'NAME_UNKNOWN', `repository ${name} is unknown`, { name });
  const ref = parseManifestRef(reference);
  const served = await find(ctx, state, name, reference, ref);
  if (!accepts(accept, served.mediaType)) {
    throw ociError(
      404,
      'MANIFEST_UNKNOWN',
      `${name}:${reference} is a ${served.mediaType}, which the request's Accept header does not list`,
      {
        mediaType: served.mediaType,
      },
    );
  }
  countManifestFetch(ctx, caller, name, reference, served);
  const etag = `"${served.digest}"`;
  const headers = {
    ...API_VERSION,
    'Content-Type': served.mediaType,
    'Docker-Content-Digest': served.digest,
    ETag: etag,
    // Through a digest the bytes never change; through a tag they change when the alias moves
    // (or, for v<N>, when a manifest is pushed for that version).
    'Cache-Control': ref.kind === 'digest' ? IMMUTABLE : 'no-cache',
  };
  if (x.headers.ifNoneMatch !== '' && x.headers.ifNoneMatch.split(',').some((t) => t.trim() === etag)) {
    x.send(304, null, headers);
    return;
  }
  if (x.method === 'HEAD') x.send(200, null, headers, served.bytes.length);
  else x.send(200, served.bytes, headers);
}

/**
 * A manifest fetch (GET, or the HEAD containerd sends to learn the digest) is the OCI runtime's
 * resolve: counted as one, with the tag or the manifest digest as the ref. A runtime pinned to a
 * digest (`image@sha256:…`) fetches only by digest, and still runs a version.
 */
function countManifestFetch(ctx: AppContext, caller: FleetCaller | null, name: string, reference: string, served: Served): void {
  if (!caller || !ctx.fleet) return;
  const { version, digest } = served.version;
  ctx.fleet.resolvedAs(ctx.fleet.target(name, reference, version, digest), caller.identity, caller.via);
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

/** Reads the manifest body (at most MAX_MANIFEST_BYTES). Must be called synchronously in the handler. */
function readManifestBody(x: Exchange): Promise<Buffer> {
  if (!x.hasBody) return Promise.resolve(Buffer.alloc(0));
  const chunks: Buffer[] = [];
  const sink = {
    bytesWritten: 0,
    async write(chunk: Buffer) {
      chunks.push(Buffer.from(chunk));
      sink.bytesWritten += chunk.length;
    },
  };
  return receiveBody(x, Promise.resolve(sink), null, MAX_MANIFEST_BYTES).then(() => Buffer.concat(chunks, sink.bytesWritten));
}

export async function putManifest(ctx: AppContext, state: OciState, x: Exchange, name: string, reference: string): Promise<void> {
  x.route = 'oci.manifest.put';
  // Moving an alias needs its policy's mover role, exactly as on the v1 alias route.
  const role: Role = isAlias(reference) ? ctx.registry.moverRole(reference) : 'writer';
  const principal = guard(ctx, x, role, name, isAlias(reference) ? `moving @${reference} by manifest push` : 'manifest push');
  assertModelName(name);
  const ref = parseManifestRef(reference);
  if (ref.kind === 'tag') {
    throw ociError(
      400,
      'UNSUPPORTED',
      `tag "${reference}" cannot be stored: tags are modelgate aliases ([a-z][a-z0-9-]*, at most 63 characters) or v<N>`,
      {
        tag: reference,
      },
    );
  }
  const bytes = await readManifestBody(x);
  const manifest = parseManifest(bytes, x.headers.contentType);
  if (ref.kind === 'digest' && ref.digest !== manifest.digest) {
    throw ociError(400, 'DIGEST_INVALID', `the manifest's digest is ${manifest.digest}, not ${ref.digest}`, {
      expected: ref.digest,
      actual: manifest.digest,
    });
  }
  // KitOps names its layers in its config, which is read once the blobs are known to be there.
  const kitops = manifest.config.mediaType === KITOPS_CONFIG;
  let files = kitops ? [] : layerFiles(manifest);
  const release = ctx.blobGuard.pin([manifest.digest, ...referencedBlobs(manifest).map((d) => d.digest)]);
  try {
    const generated = await checkBlobs(ctx, state, name, manifest);
    if (kitops) files = layerFiles(manifest, await kitfilePaths(state, manifest.config));
    if (ref.kind === 'version') checkVersionTag(ctx, name, ref.version, files);
    if (ref.kind === 'alias') {
      const unmet = ctx.registry.unmetForFiles(name, ref.alias, files, principal);
      if (unmet.length > 0) {
        throw forbidden(
          'POLICY_UNMET',
          `${name}@${ref.alias} cannot point at these files: ${unmet.map((u) => u.message).join('; ')}; nothing was registered`,
          unmet,
        );
      }
    }
    if (files.some((f) => f.digest === EMPTY_JSON_DIGEST)) await storeBytes(ctx, EMPTY_JSON_DIGEST, EMPTY_JSON);
    // A generated config the manifest names is stored now: the manifest record keeps it from then on.
    for (const g of generated) await storeBytes(ctx, g.digest, g.bytes);
    await storeBytes(ctx, manifest.digest, bytes);
    // One commit: the version (if these files are new), the manifest record and the alias move.
    const { version } = await ctx.registry.pushManifest(
      name,
      {
        files,
        record: { metadata: manifestMetadata(manifest), lineage: {}, metrics: {}, card: {} },
        ...(ref.kind === 'version' ? { number: ref.version } : {}),
        manifest: { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.size, configDigest: manifest.config.digest },
        ...(ref.kind === 'alias' ? { alias: { alias: ref.alias, reason: `OCI push of ${manifest.digest}` } } : {}),
      },
      principal,
    );
    state.remember(manifest.digest, bytes);
    sendEmpty(x, 201, {
      Location: `/v2/${name}/manifests/${manifest.digest}`,
      'Docker-Content-Digest': manifest.digest,
      'X-Model-Version': String(version.version),
      'X-Model-Digest': version.digest,
    });
  } finally {
    release();
  }
}

/**
 * Every blob the manifest names must be stored with the size it states, or be the config of a
 * manifest generated for a version of this model (as when a client copies that manifest back);
 * those are returned, to be stored with the manifest.
 */
async function checkBlobs(
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

/** Layer digest → Kitfile path, from a KitOps manifest's config (stored: checkBlobs ran). */
async function kitfilePaths(state: OciState, config: Descriptor): Promise<Map<string, string>> {
  if (config.size > MAX_KITFILE_BYTES) {
    throw ociError(400, 'MANIFEST_INVALID', `the KitOps config is ${config.size} bytes; at most ${MAX_KITFILE_BYTES} are read`, {
      size: config.size,
    });
  }
  const bytes = await state.bytesOf(config.digest);
  if (!bytes) throw ociError(400, 'MANIFEST_BLOB_UNKNOWN', `the KitOps config ${config.digest} is unknown`, { digest: config.digest });
  return kitfileLayerPaths(bytes);
}

/**
 * A push to `v<N>` may only restate version N (e.g. copying it back), or create it when N is the
 * next version number; anything else would make the tag lie.
 */
function checkVersionTag(ctx: AppContext, name: string, n: number, files: FileEntry[]): void {
  const digest = versionDigest(sortFiles(files));
  const existing: Version | undefined = ctx.registry.findVersion(name, n);
  if (existing) {
    if (existing.digest !== digest) {
      throw ociError(
        400,
        'MANIFEST_INVALID',
        `${name}@v${n} has other files (version digest ${existing.digest}); push to an alias tag or by digest to register a new version`,
        {
          version: n,
          versionDigest: existing.digest,
          manifestFilesDigest: digest,
        },
      );
    }
    return;
  }
  const same = ctx.registry.findVersionByDigest(name, digest);
  if (same) {
    throw ociError(400, 'MANIFEST_INVALID', `these files are already ${name}@v${same.version}, not v${n}`, { version: same.version });
  }
  const next = (ctx.registry.findModel(name)?.latestVersion ?? 0) + 1;
  if (n !== next) {
    throw ociError(
      400,
      'MANIFEST_INVALID',
      `${name}@v${n} does not exist and the next version number is ${next}: push to an alias tag or by digest`,
      { next },
    );
  }
}
