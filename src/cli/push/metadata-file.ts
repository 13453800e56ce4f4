// `push --metadata FILE`: the version record sent with the registration (metadata, lineage,
// metrics, card), read from JSON or YAML and checked here against the server's own registration
// schema, so a typo fails before any bytes are uploaded.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { VersionDetails, VersionRecordInput } from '../../client/index.js';
import { registerVersionBody } from '../../domain/requests.js';
import { CliError } from '../cli-error.js';

export const RECORD_FIELDS = ['metadata', 'lineage', 'metrics', 'card'] as const;
type RecordField = (typeof RECORD_FIELDS)[number];

const MAX_PROBLEMS = 20;

export async function readMetadataFile(file: string): Promise<VersionRecordInput> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read metadata file: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseMetadataDocument(text, file);
}

/** `source` names the file in messages; `.json` files are parsed as JSON, anything else as YAML (which includes JSON). */
export function parseMetadataDocument(text: string, source: string): VersionRecordInput {
  let doc: unknown;
  try {
    doc = extname(source).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new CliError(
      `metadata file ${source} is not valid ${extname(source).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new CliError(
      `metadata file ${source} must hold a mapping with any of ${RECORD_FIELDS.join(', ')}, not ${Array.isArray(doc) ? 'a list' : typeof doc}`,
    );
  }
  const unknown = Object.keys(doc).filter((key) => !(RECORD_FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    const keys = unknown.map((k) => `"${k}"`).join(', ');
    throw new CliError(
      `metadata file ${source}: unknown top-level key${unknown.length > 1 ? 's' : ''} ${keys}; allowed: ${RECORD_FIELDS.join(', ')}`,
    );
  }
  const record = doc as Record<RecordField, unknown>;
  // The registration schema itself (with a placeholder file list), so the rules cannot drift apart.
  const checked = registerVersionBody.safeParse({ files: [{ path: 'placeholder', size: 0, digest: 'placeholder' }], ...record });
  if (!checked.success) {
    const problems = checked.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    const shown = problems.slice(0, MAX_PROBLEMS);
    if (problems.length > MAX_PROBLEMS) shown.push(`  … and ${problems.length - MAX_PROBLEMS} more`);
    throw new CliError(`metadata file ${source} does not fit a registration:\n${shown.join('\n')}`);
  }
  return record as VersionRecordInput;
}

/**
 * The fields of `record` that an existing version holds differently. Registration is idempotent:
 * pushing files already registered returns that version with its record untouched, so the caller
 * warns when the file asked for something else.
 */
export function recordDifferences(record: VersionRecordInput, existing: VersionDetails | Record<string, unknown>): RecordField[] {
  const normalized = registerVersionBody.parse({ files: [{ path: 'placeholder', size: 0, digest: 'placeholder' }], ...record });
  return RECORD_FIELDS.filter((field) => record[field] !== undefined && canonical(normalized[field]) !== canonical(existing[field] ?? {}));
}

/** JSON with object keys sorted, so equal records compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
