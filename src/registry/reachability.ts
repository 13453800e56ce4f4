// What retention must keep, the way git keeps reachable objects: every version a retained version
// reaches through its components (transitively) and, by configuration, its lineage parents. Each
// kept version carries the reason, as a chain back to the retained version that holds it.
import { parentOf } from '../domain/lineage.js';
import type { RegistryReader } from '../domain/state.js';
import { componentNames } from '../domain/stack.js';
import type { Version } from '../domain/types.js';

export interface KeptVersion {
  name: string;
  version: number;
  reason: string;
}

const key = (name: string, version: number) => `${name}@v${version}`;

/**
 * Why each of `candidates` (versions retention would delete on age alone) is kept, if it is: it is
 * reachable from a version that is not a candidate. `rootReason` says why a retained version is
 * retained ("holds @production"). Walks each retained version's components and parents once.
 */
export function reachableFrom(
  state: RegistryReader,
  candidates: readonly Version[],
  rootReason: (v: Version) => string,
  keepLineageParents: boolean,
): Map<string, KeptVersion> {
  const doomed = new Set(candidates.map((v) => key(v.name, v.version)));
  const reasons = new Map<string, string>();
  const kept = new Map<string, KeptVersion>();
  const queue: Version[] = [];
  for (const v of state.allVersions()) {
    if (doomed.has(key(v.name, v.version))) continue;
    reasons.set(key(v.name, v.version), rootReason(v));
    queue.push(v);
  }
  const reach = (from: Version, to: Version | undefined, relation: string) => {
    if (!to) return;
    const k = key(to.name, to.version);
    if (reasons.has(k)) return;
    const reason = `${relation} of ${key(from.name, from.version)}, which ${reasons.get(key(from.name, from.version))}`;
    reasons.set(k, reason);
    if (doomed.has(k)) kept.set(k, { name: to.name, version: to.version, reason });
    queue.push(to);
  };
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const c of componentNames(v)) {
      const pin = v.components![c]!;
      reach(v, state.getVersion(pin.name, pin.version), `is component "${c}"`);
    }
    if (keepLineageParents) {
      const parent = parentOf(v.lineage);
      if (parent) reach(v, state.getVersion(parent.name, parent.version), 'is the lineage parent');
    }
  }
  return kept;
}
