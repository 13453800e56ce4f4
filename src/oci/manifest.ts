// Pushed manifests: parsing and validation (image-spec manifest.md, descriptor.md), and the
// mapping of a manifest's layers onto a version's file list.
import { createHash } from 'node:crypto';
import { filePathProblem } from '../domain/names.js';
import { MAX_FILES_PER_VERSION } from '../domain/requests.js';
import type { FileEntry } from '../domain/types.js';
import { badRequest } from '../domain/errors.js';
import {
  bareType,
  DOCKER_MANIFEST,
  FILEPATH_ANNOTATION,
  INDEX_TYPES,
  KITOPS_CONFIG,
  OCI_ARTIFACT_MANIFEST,
  OCI_MANIFEST,
  SINGLE_MANIFEST_TYPES,
  tarSuffix,
  TITLE_ANNOTATION,
} from './media-types.js';

/** Largest manifest accepted (the spec asks registries to take at least 4 MB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_ANNOTATIONS_BYTES = 64 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ParsedManifest {
  /** The manifest's own media type (its `mediaType` field, or else the request's Content-Type). */
  mediaType: string;
  /** sha256 of the bytes exactly as received. */
  digest: string;
  size: number;
  config: Descriptor;
  layers: Descriptor[];
  artifactType?: string;
  annotations?: Record<string, string>;
  /** Present on referrers (signatures, SBOMs); not followed (no referrers API). */
  subject?: Descriptor;
}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256 = /^sha256:[0-9a-f]{64}$/;

function invalid(message: string, detail?: unknown): never {
  throw badRequest('MANIFEST_INVALID', message, detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function annotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) invalid(`${where}.annotations must be an object of strings`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') invalid(`${where}.annotations["${k.slice(0, 80)}"] must be a string`);
  }
  return value as Record<string, string>;
}

export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || !MEDIA_TYPE.test(mediaType))
    invalid(`${where}.mediaType must be a media type such as "application/octet-stream"`);
  if (typeof digest !== 'string' || !ANY_DIGEST.test(digest)) invalid(`${where}.digest must be a digest "algorithm:encoded"`);
  if (!SHA256.test(digest))
    invalid(`${where}.digest "${digest.slice(0, 80)}" is not supported: modelgate stores sha256 digests only (sha256:<64 lowercase hex>)`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) invalid(`${where}.size must be a non-negative integer`);
  const notes = annotations(value.annotations, where);
  return { mediaType, digest, size, ...(notes ? { annotations: notes } : {}) };
}

/**
 * Parses and validates a pushed manifest. `contentType` is the request's Content-Type; when the
 * manifest has a `mediaType` field the two must agree (parameters ignored).
 */
export function parseManifest(bytes: Buffer, contentType: string): ParsedManifest {
  if (bytes.length === 0) invalid('the manifest is empty');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    invalid('the manifest is not valid UTF-8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    invalid(`the manifest is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) invalid('the manifest must be a JSON object');
  if (doc.schemaVersion !== 2) invalid(`schemaVersion must be 2, not ${JSON.stringify(doc.schemaVersion ?? null).slice(0, 40)}`);

  const declared = contentType === '' ? '' : bareType(contentType);
  const field = doc.mediaType;
  if (field !== undefined && typeof field !== 'string') invalid('mediaType must be a string');
  let mediaType: string;
  if (typeof field === 'string') {
    mediaType = field;
    // Clients must send the manifest's own type; a generic Content-Type is tolerated.
    if (declared !== '' && declared !== field.toLowerCase() && declared !== 'application/octet-stream' && declared !== 'application/json') {
      invalid(`the Content-Type "${declared.slice(0, 100)}" does not match the manifest's mediaType "${field.slice(0, 100)}"`);
    }
  } else {
    mediaType = declared;
  }
  if (INDEX_TYPES.has(mediaType) || (field === undefined && Array.isArray(doc.manifests))) {
    invalid(
      `image indexes (${mediaType || 'a manifest with "manifests"'}) are not supported: a model version is one file list, so push a single image manifest (${OCI_MANIFEST})`,
    );
  }
  if (mediaType === OCI_ARTIFACT_MANIFEST)
    invalid(`${OCI_ARTIFACT_MANIFEST} was dropped from the OCI specs; push an ${OCI_MANIFEST} with an artifactType instead`);
  if (!SINGLE_MANIFEST_TYPES.has(mediaType)) {
    invalid(
      mediaType === ''
        ? `the manifest has no mediaType and the request no Content-Type: send Content-Type: ${OCI_MANIFEST}`
        : `unsupported manifest media type "${mediaType.slice(0, 100)}": expected ${OCI_MANIFEST} or ${DOCKER_MANIFEST}`,
    );
  }

  const config = parseDescriptor(doc.config, 'config');
  if (!Array.isArray(doc.layers)) invalid('layers must be an array of descriptors');
  if (doc.layers.length === 0) invalid('the manifest has no layers: a model version needs at least one file');
  if (doc.layers.length > MAX_FILES_PER_VERSION)
    invalid(`the manifest has ${doc.layers.length} layers; at most ${MAX_FILES_PER_VERSION} are allowed`);
  const layers = doc.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`));

  let artifactType: string | undefined;
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== 'string' || !MEDIA_TYPE.test(doc.artifactType)) invalid('artifactType must be a media type');
    artifactType = doc.artifactType;
  }
  const notes = annotations(doc.annotations, 'manifest');
  const subject = doc.subject === undefined ? undefined : parseDescriptor(doc.subject, 'subject');

  return {
    mediaType,
    digest: sha256Digest(bytes),
    size: bytes.length,
    config,
    layers,
    ...(artifactType ? { artifactType } : {}),
    ...(notes ? { annotations: notes } : {}),
    ...(subject ? { subject } : {}),
  };
}

/** The path of a layer without a title annotation: where the OCI image layout keeps that blob. */
export function derivedPath(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

/**
 * The name a layer's file gets, in this order:
 * - `org.cncf.model.filepath` (ModelPack, Docker model); a tar layer keeps its bytes and gets the
 *   tar suffix (`weights.tar`), since modelgate never unpacks layers;
 * - `org.opencontainers.image.title` (ORAS, modelgate's own manifests);
 * - the Kitfile entry that lists the layer's digest (KitOps names layers only in its config);
 * - else `blobs/sha256/<hex>`, where the OCI image layout keeps that blob.
 */
function layerPath(layer: Descriptor, kitfilePaths: ReadonlyMap<string, string>): string {
  const filepath = layer.annotations?.[FILEPATH_ANNOTATION];
  if (filepath !== undefined && filepath !== '') return withSuffix(trimPath(filepath), tarSuffix(layer.mediaType));
  const title = layer.annotations?.[TITLE_ANNOTATION];
  if (title !== undefined && title !== '') return title;
  const kit = kitfilePaths.get(layer.digest);
  if (kit !== undefined) return withSuffix(kit, tarSuffix(layer.mediaType));
  return derivedPath(layer.digest);
}

/** `./a/b/` → `a/b`: tools write directory paths either way; `./` becomes `.` (refused as a file name). */
function trimPath(path: string): string {
  const trimmed = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '.' : trimmed;
}

function withSuffix(path: string, suffix: string): string {
  return suffix === '' || path.endsWith(suffix) ? path : `${path}${suffix}`;
}

/**
 * The version's files: one per layer, named as layerPath says. The same layer listed twice under
 * one path counts once; two different layers under one path, or a path modelgate cannot store,
 * make the manifest invalid. `kitfilePaths` maps layer digests to the Kitfile's paths (KitOps).
 */
export function layerFiles(manifest: ParsedManifest, kitfilePaths: ReadonlyMap<string, string> = new Map()): FileEntry[] {
  const byPath = new Map<string, FileEntry>();
  const problems: { layer: number; path: string; problem: string }[] = [];
  manifest.layers.forEach((layer, i) => {
    const path = layerPath(layer, kitfilePaths);
    const problem = filePathProblem(path);
    if (problem) {
      problems.push({ layer: i, path, problem });
      return;
    }
    const seen = byPath.get(path);
    if (seen) {
      if (seen.digest !== layer.digest || seen.size !== layer.size)
        problems.push({ layer: i, path, problem: 'another layer has the same name' });
      return;
    }
    byPath.set(path, { path, size: layer.size, digest: layer.digest });
  });
  if (problems.length > 0) {
    const first = problems[0]!;
    invalid(
      `${problems.length} layer(s) cannot become files: layers[${first.layer}] "${first.path.slice(0, 200)}": ${first.problem}`,
      problems,
    );
  }
  return [...byPath.values()];
}

/** The largest KitOps config read to name layers (a Kitfile as JSON is a few KiB). */
export const MAX_KITFILE_BYTES = 1024 * 1024;

/**
 * Layer digest → path from a KitOps config (the Kitfile as JSON: `model`, `model.parts[]`,
 * `code[]`, `datasets[]`, `docs[]`, each with a `path` and the `digest` of its layer).
 */
export function kitfileLayerPaths(bytes: Buffer): Map<string, string> {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    invalid(`the KitOps config (${KITOPS_CONFIG}) is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) invalid(`the KitOps config (${KITOPS_CONFIG}) must be a JSON object (a Kitfile)`);
  const entries: unknown[] = [];
  if (isObject(doc.model)) {
    entries.push(doc.model);
    if (Array.isArray(doc.model.parts)) entries.push(...doc.model.parts);
  }
  for (const list of [doc.code, doc.datasets, doc.docs]) if (Array.isArray(list)) entries.push(...list);
  const paths = new Map<string, string>();
  for (const e of entries) {
    if (!isObject(e) || typeof e.digest !== 'string' || typeof e.path !== 'string' || e.path === '') continue;
    // `path: .` packs the whole directory; its tar is then named after the entry's kind.
    const path = trimPath(e.path);
    paths.set(e.digest, path === '.' ? kindName(doc, e) : path);
  }
  return paths;
}

function kindName(doc: Record<string, unknown>, entry: Record<string, unknown>): string {
  if (entry === doc.model) return 'model';
  for (const kind of ['code', 'datasets', 'docs'] as const) {
    const list = doc[kind];
    if (Array.isArray(list) && list.includes(entry)) return kind;
  }
  return 'model-part';
}

/** What a pushed manifest adds to the version record's metadata (bounded; dropped when too large). */
export function manifestMetadata(manifest: ParsedManifest): Record<string, unknown> {
  const oci: Record<string, unknown> = { manifestMediaType: manifest.mediaType, configMediaType: manifest.config.mediaType };
  if (manifest.artifactType) oci.artifactType = manifest.artifactType;
  if (manifest.annotations && JSON.stringify(manifest.annotations).length <= MAX_ANNOTATIONS_BYTES / 2)
    oci.annotations = manifest.annotations;
  return { oci };
}

/** Every blob a manifest refers to (config first), for existence checks and GC pins. */
export function referencedBlobs(manifest: ParsedManifest): Descriptor[] {
  return [manifest.config, ...manifest.layers];
}
