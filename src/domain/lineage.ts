// Validated lineage: a parent is a version that exists (frozen to `name@v<N>` at registration),
// and every dataset entry carries a digest or a URI. The reverse indexes that answer "which
// versions descend from this one" and "which versions were trained on this dataset" are written
// from here in the same commit as the record.
import { badRequest } from './errors.js';
import type { Lineage } from './types.js';
import type { Write } from './writes.js';

const PARENT = /^(.+)@v([1-9][0-9]{0,9})$/;

/** The parent `name@v<N>` as name and number, or null when the lineage names none. */
export function parentOf(lineage: Lineage | undefined): { name: string; version: number } | null {
  if (!lineage?.parent) return null;
  const m = PARENT.exec(lineage.parent);
  if (!m) throw badRequest('LINEAGE_INVALID', `lineage.parent "${lineage.parent.slice(0, 80)}" is not name@v<N>`);
  return { name: m[1]!, version: Number(m[2]) };
}

/** The keys a version's datasets are found by: each entry's digest and its URI. */
export function datasetKeys(lineage: Lineage | undefined): string[] {
  const keys = new Set<string>();
  for (const d of lineage?.datasets ?? []) {
    if (d.digest) keys.add(d.digest);
    if (d.uri) keys.add(d.uri);
  }
  return [...keys];
}

/** The index entries of a version's lineage; `add` false removes them. */
export function lineageIndexWrites(name: string, version: number, lineage: Lineage | undefined, add: boolean): Write[] {
  const writes: Write[] = [];
  const parent = parentOf(lineage);
  if (parent) writes.push({ table: 'lineageRefs', key: [parent.name, parent.version, name, version], value: add ? true : undefined });
  for (const key of datasetKeys(lineage)) writes.push({ table: 'datasetRefs', key: [key, name, version], value: add ? true : undefined });
  return writes;
}
