// Object keys for blobs, in the same layout as the disk store: <prefix>blobs/sha256/<2 hex>/<64 hex>.
// The two-character fan-out is not needed by S3 itself but keeps listings readable and lets an
// operator copy a bucket to disk (or back) without renaming anything.

const HEX64 = /^[0-9a-f]{64}$/;

export function blobsPrefix(prefix: string): string {
  return `${prefix}blobs/sha256/`;
}

export function keyOf(prefix: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  if (!digest.startsWith('sha256:') || !HEX64.test(hex)) throw new Error(`not a blob digest: "${digest.slice(0, 80)}"`);
  return `${blobsPrefix(prefix)}${hex.slice(0, 2)}/${hex}`;
}

/** The digest a listed key stands for, or null for anything else that lives under the prefix. */
export function digestOfKey(prefix: string, key: string): string | null {
  const base = blobsPrefix(prefix);
  if (!key.startsWith(base)) return null;
  const rest = key.slice(base.length);
  const slash = rest.indexOf('/');
  if (slash !== 2) return null;
  const hex = rest.slice(3);
  if (!HEX64.test(hex) || rest.slice(0, 2) !== hex.slice(0, 2)) return null;
  return `sha256:${hex}`;
}
