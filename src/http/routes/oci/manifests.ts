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
} from '../../../oci/manifest.js';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, KITOPS_CONFIG } from '../../../oci/media-types.js';
import { accepts, parseManifestRef } from './protocol.js';
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
import { attachReferrer } from './referrers.js';
import type { OciState } from './state.js';
import { assertRepository, checkBlobs, find, type Served } from './stored-manifests.js';

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
  assertRepository(ctx, name);
  const caller = fleetCaller(ctx, x, principal);
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
  // A manifest with a subject is a referrer: attached to the version its subject stands for.
  if (manifest.subject) {
    if (ref.kind !== 'digest') {
      throw ociError(
        400,
        'MANIFEST_INVALID',
        `a manifest with a subject is attached, not tagged: push it by its digest, not to "${reference}"`,
        {
          subject: manifest.subject.digest,
        },
      );
    }
    return attachReferrer(ctx, state, x, name, { ...manifest, subject: manifest.subject }, bytes, principal);
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
