// Stages as a path: an alias's policy may require that a version first held one of some earlier
// stages (`after`), for at least `soakSeconds` there, and names who may move it (`moveRole`). The
// history this reads is the alias history, which audit verify holds to the chained log.
import type { AliasPolicy, Unmet } from './policy.js';
import type { Role } from './principal.js';
import type { AliasEvent, Version } from './types.js';

/** Who may point the alias: its policy's moveRole, else an approver where approvals are required and a writer otherwise. */
export function moverRole(policy: AliasPolicy | undefined): Role {
  if (!policy) return 'writer';
  return policy.moveRole ?? (policy.approvals > 0 ? 'approver' : 'writer');
}

/** One stretch during which an alias pointed at the version. */
interface Stay {
  alias: string;
  from: number;
  until: number | null;
}

/** The stays of `version` on `aliases`, from each alias's events (in sequence order). */
function stays(eventsOf: (alias: string) => readonly AliasEvent[], version: number, aliases: readonly string[]): Stay[] {
  const out: Stay[] = [];
  const open = new Map<string, Stay>();
  for (const e of aliases.flatMap((a) => eventsOf(a))) {
    const running = open.get(e.alias);
    if (running) {
      running.until = Date.parse(e.at);
      open.delete(e.alias);
    }
    if (e.to === version) {
      const stay = { alias: e.alias, from: Date.parse(e.at), until: null };
      out.push(stay);
      open.set(e.alias, stay);
    }
  }
  return out;
}

/**
 * What the path asks of the version before it may take an alias with this policy: that it held
 * one of `after` (STAGE), for at least `soakSeconds` in one stay (SOAK; a stay still running
 * counts up to `now`). Empty when the policy names no earlier stage.
 */
export function pathUnmet(
  policy: AliasPolicy,
  version: Pick<Version, 'version'>,
  /** One alias's events in sequence order; asked only for the aliases `after` names. */
  eventsOf: (alias: string) => readonly AliasEvent[],
  now: number,
): Unmet[] {
  const after = policy.after ?? [];
  if (after.length === 0) return [];
  const list = after.map((a) => `@${a}`).join(', ');
  const held = stays(eventsOf, version.version, [...new Set(after)]);
  if (held.length === 0) return [{ code: 'STAGE', message: `must first have held one of ${list}` }];
  const soak = policy.soakSeconds ?? 0;
  if (soak <= 0) return [];
  const longest = held.reduce((best, s) => Math.max(best, ((s.until ?? now) - s.from) / 1000), 0);
  if (longest >= soak) return [];
  return [{ code: 'SOAK', message: `must have held one of ${list} for at least ${soak} s (longest stay so far ${Math.floor(longest)} s)` }];
}
