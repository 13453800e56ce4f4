// Point-in-time answers: what an alias pointed at, and what a version's record and status were,
// at a past time. Both come from histories the chained log covers (alias history, version
// history; audit verify holds them to it): the version as stored now, with every change made
// after the time undone from its recorded before-values.
import { recordDigest } from './record-digest.js';
import type { Version, VersionEvent } from './types.js';

/** The version as it was at `at` (ms since the epoch), or null when it was not registered yet. */
export function versionAt(current: Version, history: readonly VersionEvent[], at: number): Version | null {
  if (Date.parse(current.createdAt) > at) return null;
  const then: Record<string, unknown> = { ...current };
  const later = history.filter((e) => Date.parse(e.at) > at).sort((a, b) => b.seq - a.seq);
  for (const e of later) {
    for (const [field, change] of Object.entries(e.changes ?? {})) then[field] = change.before;
  }
  const version = then as unknown as Version;
  const digest = recordDigest(version);
  return { ...version, recordDigest: digest };
}

/** Parses an `at` query value: ISO 8601 only. Null when it is not one. */
export function parseAt(text: string): Date | null {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}/.test(text)) return null;
  const when = new Date(text);
  return Number.isNaN(when.getTime()) ? null : when;
}
