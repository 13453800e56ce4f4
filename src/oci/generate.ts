// The OCI image manifest modelgate serves for a version it did not receive as a manifest: one
// layer per file (sorted by path, titled with the path), the empty config, an artifactType. It is
// built from immutable version data only, with a fixed key order and no timestamps, so its bytes
// and digest are the same on every node and every day.
import type { Version } from '../domain/types.js';
import { sortFiles } from '../domain/version-digest.js';
import { sha256Digest } from './manifest.js';
import {
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  MODEL_ARTIFACT_TYPE,
  MODEL_FILE_TYPE,
  OCI_EMPTY,
  OCI_MANIFEST,
  TITLE_ANNOTATION,
  VERSION_DIGEST_ANNOTATION,
} from './media-types.js';

export interface ManifestBytes {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

export function generateManifest(version: Pick<Version, 'files' | 'digest'>): ManifestBytes {
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
  return { mediaType: OCI_MANIFEST, digest: sha256Digest(bytes), bytes };
}
