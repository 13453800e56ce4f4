// What a mutation writes, independent of the backend: the same list is applied to LMDB in one
// transaction, to Redis in one MULTI/EXEC, and replayed by every replica in sequence order.
import type { Change } from './types.js';

export const TABLES = [
  'meta',
  'models',
  'versions',
  'versionDigests',
  'versionEvents',
  'approvals',
  'aliases',
  'aliasEvents',
  'blobRefs',
  'tokens',
  'audit',
  'manifests',
  // Reverse indexes kept at commit time, for reachability and impact queries without a scan:
  // [component name, version, stack name, version] → component name in the stack;
  // [parent name, version, child name, version] → true; [dataset digest or URI, name, version] → true.
  'componentRefs',
  'lineageRefs',
  'datasetRefs',
  'webhooks',
  'outbox',
  'signatures',
] as const;
export type Table = (typeof TABLES)[number];

export type Key = string | number | (string | number)[];

export interface Write {
  table: Table;
  key: Key;
  /** undefined removes the key. */
  value?: unknown;
}

/** A planned mutation: what it returns to the caller, what it writes, and what it changed. */
export interface Plan<R> {
  result: R;
  writes: Write[];
  /** Absent when nothing changed (an idempotent repeat). */
  change?: Change;
}

/** One committed mutation as replicas receive it. */
export interface Batch {
  seq: number;
  writes: Write[];
  change?: Change;
}

/** The value these writes put at `key` of `table` (undefined if they do not put one). */
export function valueWritten(writes: readonly Write[], table: Table, key: Key): unknown {
  for (const w of writes) if (w.table === table && w.key === key) return w.value;
  return undefined;
}
