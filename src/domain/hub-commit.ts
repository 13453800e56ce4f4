// A Hugging Face Hub commit in modelgate terms. The client sends one commit as NDJSON: a header
// line (summary, description, the parent commit it expects) and one line per operation: add or
// replace a file by its LFS pointer (`lfsFile`: sha256 oid and size) or by inline base64 content
// (`file`), delete a file (`deletedFile`) or a folder (`deletedFolder`). Applied to the file list
// of the version the revision names, the operations give the new version's files; registering
// those, and moving an alias to them, goes through the registry like every other registration
// and alias move.
import { z } from 'zod';
import { badRequest, notFound } from './errors.js';
import { MAX_FILES_PER_VERSION } from './requests.js';
import type { FileEntry } from './version-digest.js';

const path = z.string().min(1).max(1024);

const header = z.object({
  summary: z.string().max(4096).optional(),
  description: z.string().max(65_536).optional(),
  parentCommit: z
    .string()
    .regex(/^[0-9a-f]{40}$/, 'parentCommit must be a 40-hex commit id')
    .optional(),
});

const lfsFile = z.object({
  path,
  algo: z.literal('sha256').optional(),
  oid: z.string().regex(/^[0-9a-f]{64}$/, 'oid must be 64 lowercase hex digits (sha256)'),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});

const inlineFile = z.object({
  path,
  content: z.string(),
  encoding: z.enum(['base64', 'utf-8']).optional(),
});

const deleted = z.object({ path });

export type HubCommitHeader = z.infer<typeof header>;

export type HubOperation =
  | { kind: 'lfsFile'; path: string; digest: string; size: number | null }
  | { kind: 'file'; path: string; content: Buffer }
  | { kind: 'deletedFile'; path: string }
  | { kind: 'deletedFolder'; path: string };

/** A file the commit adds or replaces, once its bytes are known to be stored. */
export type StoredOperation = { kind: 'put'; entry: FileEntry } | { kind: 'deletedFile' | 'deletedFolder'; path: string };

function parseLine<T>(schema: z.ZodType<T>, value: unknown, line: number, key: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw badRequest('COMMIT_INVALID', `line ${line} (${key}): ${issue.path.join('.') || 'value'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The commit's header and operations, from its NDJSON body; a 400 names the first bad line. */
export function parseHubCommit(body: string): { header: HubCommitHeader; operations: HubOperation[] } {
  const lines = body.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw badRequest('COMMIT_INVALID', 'the commit is empty: a header line is required');
  let commitHeader: HubCommitHeader | null = null;
  const operations: HubOperation[] = [];
  lines.forEach((text, i) => {
    const line = i + 1;
    let item: unknown;
    try {
      item = JSON.parse(text);
    } catch (err) {
      throw badRequest('COMMIT_INVALID', `line ${line} is not JSON: ${(err as Error).message}`);
    }
    const { key, value } = (typeof item === 'object' && item !== null ? item : {}) as { key?: unknown; value?: unknown };
    if (line === 1) {
      if (key !== 'header') throw badRequest('COMMIT_INVALID', 'line 1 must be the commit header ({"key":"header",…})');
      commitHeader = parseLine(header, value, line, 'header');
      return;
    }
    switch (key) {
      case 'lfsFile': {
        const v = parseLine(lfsFile, value, line, key);
        operations.push({ kind: 'lfsFile', path: v.path, digest: `sha256:${v.oid}`, size: v.size ?? null });
        return;
      }
      case 'file': {
        const v = parseLine(inlineFile, value, line, key);
        const content = v.encoding === 'base64' ? Buffer.from(v.content, 'base64') : Buffer.from(v.content, 'utf8');
        operations.push({ kind: 'file', path: v.path, content });
        return;
      }
      case 'deletedFile':
      case 'deletedFolder':
        operations.push({ kind: key, path: parseLine(deleted, value, line, key).path });
        return;
      default:
        throw badRequest(
          'COMMIT_OPERATION_UNSUPPORTED',
          `line ${line}: operation "${String(key)}" is not supported (lfsFile, file, deletedFile and deletedFolder are)`,
        );
    }
  });
  if (operations.length === 0) throw badRequest('COMMIT_INVALID', 'the commit has no operations');
  return { header: commitHeader!, operations };
}

/**
 * The new version's files: the parent's, with the operations applied in order. Deleting a file or
 * folder the revision does not have is refused (404), as the Hub refuses it.
 */
export function applyHubCommit(parent: readonly FileEntry[], operations: readonly StoredOperation[]): FileEntry[] {
  const files = new Map(parent.map((f) => [f.path, f]));
  for (const op of operations) {
    if (op.kind === 'put') {
      files.set(op.entry.path, op.entry);
    } else if (op.kind === 'deletedFile') {
      if (!files.delete(op.path)) throw notFound('ENTRY_NOT_FOUND', `cannot delete "${op.path}": the revision has no such file`);
    } else {
      const prefix = `${op.path.replace(/\/+$/, '')}/`;
      const inside = [...files.keys()].filter((p) => p.startsWith(prefix));
      if (inside.length === 0) throw notFound('ENTRY_NOT_FOUND', `cannot delete folder "${op.path}": the revision has no files under it`);
      for (const p of inside) files.delete(p);
    }
  }
  if (files.size > MAX_FILES_PER_VERSION) {
    throw badRequest('COMMIT_INVALID', `the commit leaves ${files.size} files; a version holds at most ${MAX_FILES_PER_VERSION}`);
  }
  return [...files.values()];
}
