// The reviewable record of a version and its digest: what an approver approves. An approval
// carries the digest of the record it approved, so an edit of anything in it (a card field, a
// metric, lineage, metadata) makes the approval one of an earlier record that gates no longer count.
import { createHash } from 'node:crypto';
import type { Version } from './types.js';
import { canonicalJson } from './canonical-json.js';

/**
 * The parts of a version an approver reviews. `files` is the version digest (which covers every
 * file's path, size and digest). Later parts (stack components, signatures) join as optional
 * members: a member a version does not have is left out of the canonical JSON, so adding one
 * does not change the digest of any version that lacks it.
 */
export type ReviewableRecord = Pick<Version, 'digest' | 'metadata' | 'lineage' | 'metrics' | 'card'>;

/** The record fields an edit can change (the file list never changes after registration). */
export const RECORD_FIELDS = ['metadata', 'lineage', 'metrics', 'card'] as const;
export type RecordField = (typeof RECORD_FIELDS)[number];

const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/** sha256 over the canonical JSON of {card, files, lineage, metadata, metrics}. */
export function recordDigest(v: ReviewableRecord): string {
  return sha256(
    canonicalJson({ files: v.digest, metadata: v.metadata ?? {}, lineage: v.lineage ?? {}, metrics: v.metrics ?? {}, card: v.card ?? {} }),
  );
}

/** The digest of one record field's value, for audit entries that name what an edit changed without copying it. */
export function fieldDigest(value: unknown): string {
  return sha256(canonicalJson(value ?? {}));
}
