// Validation of everything a client names: models, aliases, refs, file paths, digests.
import { badRequest } from './errors.js';

const WORD = '[a-z0-9]+(?:[._-][a-z0-9]+)*';
const MODEL_NAME = new RegExp(`^${WORD}(?:/${WORD})?$`);
const ALIAS = /^[a-z][a-z0-9-]*$/;
const VERSION_REF = /^v([1-9][0-9]{0,9})$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
export const MAX_NAME_LENGTH = 128;
export const MAX_ALIAS_LENGTH = 63;
export const MAX_PATH_LENGTH = 1024;

/** Sub-resource words that would make `/v1/models/{team}/{word}` ambiguous as a model's last segment. */
const RESERVED_LAST_SEGMENTS = new Set(['versions', 'aliases', 'files', 'approvals', 'lineage', 'impact']);
/** First segments the gateway serves itself at the root (the console at `/ui/`), so a Hub URL `/{name}/resolve/…` cannot reach them. */
const RESERVED_FIRST_SEGMENTS = new Set(['ui']);

export function isModelName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !MODEL_NAME.test(name)) return false;
  const slash = name.indexOf('/');
  if (RESERVED_FIRST_SEGMENTS.has(slash < 0 ? name : name.slice(0, slash))) return false;
  return slash < 0 || !RESERVED_LAST_SEGMENTS.has(name.slice(slash + 1));
}

export function assertModelName(name: string): string {
  if (!isModelName(name)) {
    throw badRequest(
      'NAME_INVALID',
      `invalid model name "${truncate(name)}": use "model" or "team/model", lowercase [a-z0-9] words joined by ".", "_" or "-", at most ${MAX_NAME_LENGTH} characters`,
    );
  }
  return name;
}

export function isAlias(alias: string): boolean {
  return alias.length <= MAX_ALIAS_LENGTH && ALIAS.test(alias) && !/^v[0-9]+$/.test(alias);
}

export function assertAlias(alias: string): string {
  if (!isAlias(alias)) {
    throw badRequest(
      'ALIAS_INVALID',
      `invalid alias "${truncate(alias)}": use [a-z][a-z0-9-]*, at most ${MAX_ALIAS_LENGTH} characters, and not v<N>`,
    );
  }
  return alias;
}

export function isDigest(digest: string): boolean {
  return DIGEST.test(digest);
}

export function assertDigest(digest: string, what = 'digest'): string {
  if (!isDigest(digest)) {
    throw badRequest('DIGEST_INVALID', `invalid ${what} "${truncate(digest)}": expected sha256:<64 lowercase hex>`);
  }
  return digest;
}

export type Ref = { kind: 'alias'; alias: string } | { kind: 'version'; version: number } | { kind: 'digest'; digest: string };

export function parseRef(ref: string): Ref {
  const v = VERSION_REF.exec(ref);
  if (v) return { kind: 'version', version: Number(v[1]) };
  if (ref.startsWith('sha256:')) return { kind: 'digest', digest: assertDigest(ref, 'version digest') };
  if (isAlias(ref)) return { kind: 'alias', alias: ref };
  throw badRequest('REF_INVALID', `invalid reference "${truncate(ref)}": expected an alias, v<N> or sha256:<64 hex>`);
}

/** Splits `name@ref`; both halves are validated. */
export function parseReference(text: string): { name: string; ref: string; parsed: Ref } {
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) {
    throw badRequest('REF_INVALID', `invalid reference "${truncate(text)}": expected name@alias, name@v<N> or name@sha256:<hex>`);
  }
  const name = assertModelName(text.slice(0, at));
  const ref = text.slice(at + 1);
  return { name, ref, parsed: parseRef(ref) };
}

/**
 * A file path inside a model: relative, `/`-separated, no empty, `.` or `..` segments, no
 * backslashes or control characters. File names are metadata only; they never become disk paths.
 */
export function filePathProblem(path: string): string | null {
  if (typeof path !== 'string' || path.length === 0) return 'path is empty';
  if (path.length > MAX_PATH_LENGTH) return `path is longer than ${MAX_PATH_LENGTH} characters`;
  if (path.startsWith('/')) return 'path is absolute';
  if (path.includes('\\')) return 'path contains a backslash';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'path contains a control character';
  for (const segment of path.split('/')) {
    if (segment === '') return 'path has an empty segment';
    if (segment === '.' || segment === '..') return `path has a "${segment}" segment`;
  }
  return null;
}

export function assertFilePath(path: string): string {
  const problem = filePathProblem(path);
  if (problem) throw badRequest('PATH_INVALID', `invalid file path "${truncate(path)}": ${problem}`);
  return path;
}

function truncate(s: string): string {
  const printable = s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return printable.length > 80 ? `${printable.slice(0, 77)}...` : printable;
}
