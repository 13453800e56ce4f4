// Media types and well-known descriptors of the OCI image and distribution specs (v1.1), and the
// ones modelgate defines for the manifests it generates.

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** Never part of a final spec (dropped from image-spec 1.1 before release); refused. */
export const OCI_ARTIFACT_MANIFEST = 'application/vnd.oci.artifact.manifest.v1+json';

/** Manifest types whose config + layers map onto a version's file list. */
export const SINGLE_MANIFEST_TYPES: ReadonlySet<string> = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);
/** Manifest types that list other manifests: known, but a version is one file list, so refused on push. */
export const INDEX_TYPES: ReadonlySet<string> = new Set([OCI_INDEX, DOCKER_MANIFEST_LIST]);

/** The empty descriptor's media type and content (`{}`), image-spec "Guidance for an Empty Descriptor". */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const EMPTY_JSON = Buffer.from('{}');
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/** The `artifactType` of manifests modelgate generates for versions. */
export const MODEL_ARTIFACT_TYPE = 'application/vnd.modelgate.model.v1';
/** The media type of each layer (one per file) of a generated manifest. */
export const MODEL_FILE_TYPE = 'application/vnd.modelgate.file';

/** Annotation keys (image-spec annotations.md). */
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';
/** Generated manifests carry the version digest (sha256 over the canonical file list). */
export const VERSION_DIGEST_ANNOTATION = 'dev.modelgate.version.digest';

/** The media type part of a Content-Type or Accept entry: parameters dropped, lowercased. */
export function bareType(value: string): string {
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

// CNCF ModelPack model-spec v1 (github.com/modelpack/model-spec, docs/spec.md, docs/config.md,
// docs/annotations.md): what generated manifests of versions registered since it was adopted follow.
export const MODELPACK_ARTIFACT_TYPE = 'application/vnd.cncf.model.manifest.v1+json';
export const MODELPACK_CONFIG = 'application/vnd.cncf.model.config.v1+json';
/** Layer media types are `application/vnd.cncf.model.<kind>.v1.<raw|tar|tar+gzip|tar+zstd>`. */
export type ModelPackKind = 'weight' | 'weight.config' | 'doc' | 'code' | 'dataset';
export const modelPackLayerType = (kind: ModelPackKind): string => `application/vnd.cncf.model.${kind}.v1.raw`;
/** The layer's file path: the key model-spec tools (modctl, Docker model) read when unpacking. */
export const FILEPATH_ANNOTATION = 'org.cncf.model.filepath';
/** The file's metadata (name, mode, uid, gid, size, mtime, typeflag) as a JSON string. */
export const FILE_METADATA_ANNOTATION = 'org.cncf.model.file.metadata+json';
/** Set to "true" when the layer's kind was guessed (here: from the file name), as model-spec asks. */
export const UNTESTED_ANNOTATION = 'org.cncf.model.file.mediatype.untested';

// KitOps ModelKits (github.com/kitops-ml/kitops, pkg/lib/constants/mediaType.go): the config is the
// Kitfile as JSON, each layer a tar (optionally gzip) of one Kitfile entry, named only in the config.
export const KITOPS_CONFIG = 'application/vnd.kitops.modelkit.config.v1+json';

/**
 * The file name suffix a ModelPack, Docker model or KitOps tar layer gets: modelgate keeps layers
 * byte for byte and never unpacks them, so a tar stays a file named as one. '' for any other
 * layer (ORAS gives plain files the image layer type `…layer.v1.tar`, so that one is left alone).
 */
export function tarSuffix(mediaType: string): string {
  if (!/^application\/vnd\.(cncf\.model|docker\.ai|kitops\.modelkit)\./.test(mediaType)) return '';
  const m = /[./]tar(?:\+(gzip|zstd))?$/.exec(mediaType);
  if (!m) return '';
  return m[1] === 'gzip' ? '.tar.gz' : m[1] === 'zstd' ? '.tar.zst' : '.tar';
}
