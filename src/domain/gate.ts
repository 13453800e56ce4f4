// The one promotion gate. Every path that points an alias at a version (alias set, rollback, an
// OCI tag push, a registration that moves an alias) asks this function, inside the transaction
// that would commit the move, and refuses the move when it returns anything.
import { unmetRequirements, type AliasPolicy, type Unmet } from './policy.js';
import { pathUnmet } from './promotion-path.js';
import type { AliasEvent, Approval, Version } from './types.js';
import { recordDigest } from './record-digest.js';
import type { RegistryReader } from './state.js';
import { walkClosure } from './stack.js';

export interface MoveCandidate {
  /** The alias's policy; undefined for an alias no policy lists (ungated, but never to a retired version). */
  policy: AliasPolicy | undefined;
  action: 'set' | 'rollback';
  version: Version;
  /**
   * What the gate may read, asked only when the policy needs it: a move of an alias no policy
   * lists reads nothing, and a rollback reads the alias's events only back to the version's last
   * stay. Every move runs this gate, so reading whole histories here grew each commit with them.
   */
  reads: GateReads;
  /** The time the path's soak is measured to (ms since the epoch); default now. */
  now?: number;
}

/** The gate's readers (see MoveCandidate.reads); `gateReads` builds them over the registry's state. */
export interface GateReads {
  /** Every decision ever recorded on the version; only those on its current record count. */
  approvals(): readonly Approval[];
  /** The alias's events, newest first (consumed lazily: the rollback rule stops at its first match). */
  aliasEventsNewestFirst(): Iterable<AliasEvent>;
  /** A stack's closure: each component version with its decisions (empty for a flat version). */
  components(): readonly ComponentCandidate[];
  /** One alias's events in sequence order, for the promotion path (earlier stages held, soak time). */
  aliasHistory(alias: string): readonly AliasEvent[];
  /** How many verified model signatures the version has (see domain/model-signing.ts). */
  signatures(): number;
}

/** The readers for a version not registered yet: no decisions, no stays, no components, no signatures. */
export const NOTHING_RECORDED: GateReads = {
  approvals: () => [],
  aliasEventsNewestFirst: () => [],
  components: () => [],
  aliasHistory: () => [],
  signatures: () => 0,
};

/**
 * The gate's readers for `version` moving onto `alias`, over the registry's state. `history:
 * false` is for a check that is not a move of an alias the version could have held before (a
 * preview of the policies' requirements): it reads no alias events for the rollback rule.
 */
export function gateReads(state: RegistryReader, alias: string, version: Version, options: { history?: boolean } = {}): GateReads {
  const { name } = version;
  return {
    approvals: () => state.listApprovals(name, version.version),
    aliasEventsNewestFirst: () => (options.history === false ? [] : state.aliasEventsNewestFirst(name, alias)),
    components: () => componentCandidates(state, version),
    aliasHistory: (a) => state.aliasHistory(name, a),
    signatures: () => state.listSignatures(name, version.version).length,
  };
}

export interface ComponentCandidate {
  /** The component's path in the stack, `/`-separated. */
  path: string;
  version: Version;
  approvals: readonly Approval[];
}

/** A stack's closure as the gate reads it: every component with its decisions (empty for a flat version). */
export function componentCandidates(state: RegistryReader, version: Version): ComponentCandidate[] {
  return walkClosure(version, (n, v) => state.getVersion(n, v)).map((e) => ({
    path: e.path.join('/'),
    version: e.version,
    approvals: state.listApprovals(e.version.name, e.version.version),
  }));
}

/** Decisions taken on the version's current record (an edit since makes earlier ones stale). */
export function currentApprovals(version: Version, approvals: readonly Approval[]): Approval[] {
  const digest = recordDigest(version);
  return approvals.filter((a) => a.recordDigest === digest);
}

/**
 * Everything that keeps the alias from pointing at the version; empty when the move may go ahead.
 * A rollback may skip re-collecting approvals, and only that, for a version that held this alias
 * before with the very record it has now (so it passed this gate with it) and is not rejected,
 * deprecated or retired (the status requirement still applies).
 */
export function aliasMoveUnmet(c: MoveCandidate): Unmet[] {
  if (c.version.status === 'retired') return [{ code: 'STATUS', message: 'version is retired: no alias may point at it again' }];
  if (!c.policy) return [];
  const unmet = [
    ...unmetRequirements(c.policy, c.version, currentApprovals(c.version, c.reads.approvals())),
    ...componentsUnmet(c.policy, c.reads.components()),
    ...pathUnmet(c.policy, c.version, (alias) => c.reads.aliasHistory(alias), c.now ?? Date.now()),
    ...(c.policy.requireSignature && !(c.reads.signatures() > 0)
      ? [{ code: 'SIGNATURE' as const, message: 'needs a verified model signature (POST …/versions/{n}/signatures)' }]
      : []),
  ];
  // A rollback to a stack that held the alias with this record spares its components' approvals as it spares its own.
  if (c.action === 'rollback' && heldWithThisRecord(c.version, c.reads.aliasEventsNewestFirst())) {
    return unmet.filter((u) => u.code !== 'APPROVALS' && u.cause !== 'APPROVALS');
  }
  return unmet;
}

/**
 * What a stack's components keep it from a protected alias: a retired or rejected component
 * always; with `requireComponents`, everything each component lacks under the same alias's
 * policy, on its own record and approvals. Each entry names the component.
 */
function componentsUnmet(policy: AliasPolicy, components: readonly ComponentCandidate[]): Unmet[] {
  const unmet: Unmet[] = [];
  for (const c of components) {
    const ref = `${c.version.name}@v${c.version.version}`;
    const own = policy.requireComponents
      ? unmetRequirements(policy, c.version, currentApprovals(c.version, c.approvals))
      : c.version.status === 'retired' || c.version.status === 'rejected'
        ? [{ code: 'STATUS' as const, message: `version is ${c.version.status}` }]
        : [];
    for (const u of own) {
      unmet.push({
        code: 'COMPONENT',
        message: `component ${c.path} (${ref}): ${u.message}`,
        component: c.path,
        ref,
        cause: u.code as Exclude<Unmet['code'], 'COMPONENT'>,
      });
    }
  }
  return unmet;
}

/** Whether the alias ever pointed at the version with its current record (any order; stops at the first such event). */
function heldWithThisRecord(version: Version, events: Iterable<AliasEvent>): boolean {
  const digest = recordDigest(version);
  for (const e of events) if (e.to === version.version && e.recordDigest === digest) return true;
  return false;
}

/**
 * What an edit would break outright for an alias the version holds: the record requirements
 * (card fields, metric thresholds), and a deprecation (its status). Missing approvals are not among them: the edit voids them and
 * the version keeps serving, flagged, until an approver re-approves the new record.
 */
export function editUnmet(policy: AliasPolicy, edited: Version, before?: Pick<Version, 'status'>): Unmet[] {
  const unmet = unmetRequirements(policy, edited, []).filter((u) => u.code === 'CARD_FIELD' || u.code === 'METRIC');
  // Deprecating a version that serves the alias would leave the alias on a version its policy
  // refuses: move the alias first. (A status it already had, say a rejection after it was
  // promoted, does not block fixing its record.)
  if (before && edited.status === 'deprecated' && before.status !== 'deprecated') {
    unmet.unshift({ code: 'STATUS', message: 'a version that holds this alias cannot be deprecated: move the alias first' });
  }
  return unmet;
}

/** True when the version lacks the approvals its alias's policy asks of its current record. */
export function awaitsReapproval(policy: AliasPolicy, version: Version, approvals: readonly Approval[]): boolean {
  return unmetRequirements(policy, version, currentApprovals(version, approvals)).some((u) => u.code === 'APPROVALS');
}
