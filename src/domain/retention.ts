// Retention's rule for evidence: a version that is retired or ever held a protected alias is kept
// forever unless `retention.evidenceVersionDays` is set; then it may go that many days after it
// last served (the last alias move onto or off it, its retirement, its registration, whichever
// is latest), once nothing holds or reaches it. Deleting by hand stays refused either way.
import type { AliasEvent, Version, VersionEvent } from './types.js';

/** Why the version is evidence (retired, once protected), or null when it is not. */
export function evidenceReason(v: Pick<Version, 'status' | 'protectedAliases'>): string | null {
  const why: string[] = [];
  if (v.status === 'retired') why.push('is retired');
  if (v.protectedAliases.length > 0) why.push(`once held protected ${v.protectedAliases.map((a) => `@${a}`).join(', ')}`);
  return why.length > 0 ? why.join(' and ') : null;
}

/** When the version last served or changed standing (ms since the epoch): the clock evidence retention counts from. */
export function lastServed(
  v: Pick<Version, 'version' | 'createdAt'>,
  modelAliasEvents: readonly AliasEvent[],
  history: readonly VersionEvent[],
): number {
  let last = Date.parse(v.createdAt);
  for (const e of modelAliasEvents) {
    if (e.to === v.version || e.from === v.version) last = Math.max(last, Date.parse(e.at));
  }
  for (const e of history) last = Math.max(last, Date.parse(e.at));
  return last;
}
