// Pure pieces of the distribution protocol: URL layout, references, Accept negotiation, tag
// pagination. Nothing here touches storage or the network.
import { assertDigest, isAlias } from '../../../domain/names.js';
import { decode } from '../../paths.js';
import { ociError } from '../../errors/oci-dialect.js';
import { bareType } from '../../../oci/media-types.js';

export type OciTarget =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'tags'; name: string }
  | { kind: 'referrers'; name: string; digest: string }
  | { kind: 'unknown' };

/**
 * Splits a /v2/ path. A repository name has one or more segments, so every split point is tried,
 * shortest name first; the name itself is validated by the handler (NAME_INVALID in the spec's
 * format) rather than here.
 */
export function parseOciPath(path: string): OciTarget {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  // No model name starts with `_`, so the catalog cannot shadow a repository.
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  if (!path.startsWith('/v2/')) return { kind: 'unknown' };
  const segs = path.slice(4).split('/');
  for (let k = 1; k < segs.length; k++) {
    const tail = segs.slice(k);
    const name = () => segs.slice(0, k).map(decode).join('/');
    const [a, b, c] = tail;
    if (a === 'manifests' && tail.length === 2 && b) return { kind: 'manifest', name: name(), reference: decode(b) };
    if (a === 'blobs' && b === 'uploads' && (tail.length === 2 || (tail.length === 3 && c === '')))
      return { kind: 'uploads', name: name() };
    if (a === 'blobs' && b === 'uploads' && tail.length === 3 && c) return { kind: 'upload', name: name(), id: decode(c) };
    if (a === 'blobs' && tail.length === 2 && b) return { kind: 'blob', name: name(), digest: decode(b) };
    if (a === 'tags' && b === 'list' && tail.length === 2) return { kind: 'tags', name: name() };
    if (a === 'referrers' && tail.length === 2 && b) return { kind: 'referrers', name: name(), digest: decode(b) };
  }
  return { kind: 'unknown' };
}

export type ManifestRef =
  | { kind: 'digest'; digest: string }
  | { kind: 'version'; version: number; tag: string }
  | { kind: 'alias'; alias: string; tag: string }
  /** A well-formed OCI tag that is not a modelgate alias or v<N> (e.g. "1.0", "Latest"). */
  | { kind: 'tag'; tag: string };

const OCI_TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const VERSION_TAG = /^v([1-9][0-9]{0,9})$/;

/** Classifies `<tag-or-digest>`; anything that is neither a tag nor a digest is a 400. */
export function parseManifestRef(reference: string): ManifestRef {
  if (reference.includes(':')) {
    if (!reference.startsWith('sha256:')) {
      throw ociError(400, 'DIGEST_INVALID', `unsupported digest "${reference.slice(0, 80)}": modelgate uses sha256 only`);
    }
    return { kind: 'digest', digest: assertDigest(reference) };
  }
  const v = VERSION_TAG.exec(reference);
  if (v) return { kind: 'version', version: Number(v[1]), tag: reference };
  if (isAlias(reference)) return { kind: 'alias', alias: reference, tag: reference };
  if (OCI_TAG.test(reference)) return { kind: 'tag', tag: reference };
  throw ociError(400, 'MANIFEST_INVALID', `"${reference.slice(0, 80)}" is neither a tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}) nor a digest`);
}

/**
 * Whether a response of `mediaType` satisfies the request's Accept header: no header, `*` + `/*`,
 * `type/*` or the exact type (parameters ignored, `q=0` excludes).
 */
export function accepts(accept: string, mediaType: string): boolean {
  if (accept.trim() === '') return true;
  const wanted = mediaType.toLowerCase();
  const major = wanted.slice(0, wanted.indexOf('/') + 1);
  for (const entry of accept.split(',')) {
    const type = bareType(entry);
    if (type === '') continue;
    if (/;\s*q\s*=\s*0(?:\.0{0,3})?\s*(?:;|$)/i.test(entry)) continue;
    if (type === wanted || type === '*/*' || type === `${major}*`) return true;
  }
  return false;
}

export const MAX_TAGS_PAGE = 10_000;
/** Repositories in one page of the catalog at most (each is a name check against the token's scope). */
export const MAX_CATALOG_PAGE = 1000;

/** The `n` query parameter of tags/list and _catalog: absent → null, otherwise a non-negative integer. */
export function parseTagCount(text: string): number | null {
  if (text === '') return null;
  if (!/^[0-9]{1,9}$/.test(text)) throw ociError(400, 'UNSUPPORTED', `n must be a non-negative integer, not "${text.slice(0, 40)}"`);
  return Number(text);
}

/**
 * One page of tags in ASCII order (Go's sort.Strings): those after `last`, at most `n` (capped at
 * MAX_TAGS_PAGE; with a `next` marker when more remain). `n` = 0 is an empty page without a next.
 */
export function pageTags(all: readonly string[], n: number | null, last: string): { tags: string[]; next: string | null } {
  const sorted = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (n === 0) return { tags: [], next: null };
  const after = last === '' ? sorted : sorted.filter((t) => t > last);
  const size = Math.min(n ?? MAX_TAGS_PAGE, MAX_TAGS_PAGE);
  const tags = after.slice(0, size);
  return { tags, next: after.length > size ? tags[tags.length - 1]! : null };
}
