// The OCI image manifest modelgate serves for a version it did not receive as a manifest: one
// layer per file (sorted by path), titled with the path. It is built from immutable version data
// only, with a fixed key order and no clock, so its bytes and digest are the same on every node and
// every day. Its layout is the one fixed at registration (Version.ociLayout):
// - 'modelpack-v2': a CNCF ModelPack model-spec manifest with its config (generated too), each
//   layer with its file metadata annotation (docs/annotations.md);
// - 'modelpack': the same without file metadata, as versions registered before it were served;
// - absent (versions registered before ModelPack): the first layout, with the empty config.
import type { FileEntry, Version } from '../domain/types.js';
import { sortFiles } from '../domain/version-digest.js';
import { sha256Digest } from './manifest.js';
import {
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  FILE_METADATA_ANNOTATION,
  FILEPATH_ANNOTATION,
  MODEL_ARTIFACT_TYPE,
  MODEL_FILE_TYPE,
  MODELPACK_ARTIFACT_TYPE,
  MODELPACK_CONFIG,
  type ModelPackKind,
  modelPackLayerType,
  OCI_EMPTY,
  OCI_MANIFEST,
  TITLE_ANNOTATION,
  UNTESTED_ANNOTATION,
  VERSION_DIGEST_ANNOTATION,
} from './media-types.js';

export interface ManifestBytes {
  mediaType: string;
  digest: string;
  bytes: Buffer;
  /** The config blob the manifest names (generated with it; served from memory). */
  config: { digest: string; bytes: Buffer };
}

export type ManifestSource = Pick<Version, 'name' | 'version' | 'createdAt' | 'files' | 'digest' | 'ociLayout'>;

export function generateManifest(version: ManifestSource): ManifestBytes {
  if (version.ociLayout === 'modelpack-v2') return modelPackManifest(version, true);
  if (version.ociLayout === 'modelpack') return modelPackManifest(version, false);
  return firstLayoutManifest(version);
}

function firstLayoutManifest(version: Pick<Version, 'files' | 'digest'>): ManifestBytes {
  // Objects are written key by key in this order; JSON.stringify keeps insertion order.
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: MODEL_ARTIFACT_TYPE,
    config: { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON.length },
    layers: sortFiles(version.files).map((f) => ({
      mediaType: MODEL_FILE_TYPE,
      digest: f.digest,
      size: f.size,
      annotations: { [TITLE_ANNOTATION]: f.path },
    })),
    annotations: { [VERSION_DIGEST_ANNOTATION]: version.digest },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { mediaType: OCI_MANIFEST, digest: sha256Digest(bytes), bytes, config: { digest: EMPTY_JSON_DIGEST, bytes: EMPTY_JSON } };
}

function modelPackManifest(version: ManifestSource, fileMetadata: boolean): ManifestBytes {
  const files = sortFiles(version.files);
  const kinds = files.map((f) => fileKind(f.path));
  const format = weightFormat(files.filter((_, i) => kinds[i] === 'weight'));
  // docs/config.md: descriptor and config are required objects; modelfs lists each layer's
  // uncompressed digest, which for a raw layer is its digest. Only registration-time data goes in
  // (the record's metadata can be edited later; this blob must not change).
  const config = {
    descriptor: { createdAt: version.createdAt, name: version.name, version: `v${version.version}` },
    config: format ? { format } : {},
    modelfs: { type: 'layers', diffIds: files.map((f) => f.digest) },
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256Digest(configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: MODELPACK_ARTIFACT_TYPE,
    config: { mediaType: MODELPACK_CONFIG, digest: configDigest, size: configBytes.length },
    layers: files.map((f, i) => ({
      mediaType: modelPackLayerType(kinds[i]!),
      digest: f.digest,
      size: f.size,
      // The title too, so plain OCI clients (oras, skopeo to a dir) name the file as well.
      annotations: {
        [FILEPATH_ANNOTATION]: f.path,
        ...(fileMetadata ? { [FILE_METADATA_ANNOTATION]: fileMetadataOf(f, version.createdAt) } : {}),
        [UNTESTED_ANNOTATION]: 'true',
        [TITLE_ANNOTATION]: f.path,
      },
    })),
    annotations: { [VERSION_DIGEST_ANNOTATION]: version.digest },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { mediaType: OCI_MANIFEST, digest: sha256Digest(bytes), bytes, config: { digest: configDigest, bytes: configBytes } };
}

/**
 * model-spec's FileMetadata as JSON, in its field order, from what the version recorded: the base
 * name (as modctl and Docker write it), a regular file (typeflag 0) readable by all (mode 0644),
 * owned by root, of the registered size, modified at registration (the source file's own mtime
 * is not recorded, and this must not change).
 */
function fileMetadataOf(f: FileEntry, createdAt: string): string {
  const name = f.path.slice(f.path.lastIndexOf('/') + 1);
  return JSON.stringify({ name, mode: 0o644, uid: 0, gid: 0, size: f.size, mtime: createdAt, typeflag: 0 });
}

const WEIGHT = /\.(safetensors|gguf|ggml|bin|pt|pth|ckpt|onnx|h5|keras|pb|tflite|msgpack|npz|npy|mlmodel|joblib|pkl|pickle|dduf)$/;
const CODE = /\.(py|ipynb|sh|js|mjs|ts|go|rs|c|cc|cpp|h|hpp|java|scala|r|jl|lua|rb)$/;
const DATASET = /\.(csv|tsv|parquet|arrow|jsonl|tfrecord|feather|avro)$/;
const DOC = /^(readme|license|licence|notice|copying|model_card|modelcard)([._-].*)?$|\.(md|rst|pdf|html)$/;

/**
 * The model-spec layer kind of a file, guessed from its name (hence the "untested" annotation):
 * weights, code, datasets and documents by extension or well-known name; anything else (JSON and
 * YAML configs, tokenizer files, vocabularies) is weight configuration.
 */
export function fileKind(path: string): ModelPackKind {
  const base = (path.slice(path.lastIndexOf('/') + 1) || path).toLowerCase();
  if (WEIGHT.test(base)) return 'weight';
  if (DOC.test(base)) return 'doc';
  if (CODE.test(base)) return 'code';
  if (DATASET.test(base)) return 'dataset';
  return 'weight.config';
}

const FORMATS: Record<string, string> = { safetensors: 'safetensors', gguf: 'gguf', onnx: 'onnx', pt: 'pt', pth: 'pt' };

/** config.format when every weight file has the same well-known format; else none. */
function weightFormat(weights: FileEntry[]): string | undefined {
  const found = new Set(weights.map((f) => FORMATS[f.path.slice(f.path.lastIndexOf('.') + 1).toLowerCase()]));
  if (found.size !== 1) return undefined;
  return [...found][0];
}
