// Stragglers as evidence. Once an alias move's straggler window has passed, the instances still on
// another version are recorded once, as an audit finding (`fleet.stragglers`, target
// `model@alias`): webhook receivers, auditors and exports learn that a fleet did not follow a move
// without having watched it. Every node checks the moves it knows of after each flush; a claim in
// the shared fleet store lets exactly one of them record each move's finding.
import {
  fleetSummary,
  movesPastWindow,
  STRAGGLERS_ACTION,
  type AliasState,
  type FleetSummaryView,
  type ViewOptions,
} from '../../domain/fleet-view.js';
import type { Actor } from '../../domain/types.js';
import type { FleetStore } from '../../store/fleet-store.js';

type StragglerList = FleetSummaryView['stragglers'][number];

/** Whose name a finding carries: no one asked for it. */
const FLEET_ACTOR: Actor = { id: 'system', name: 'fleet' };
/** Moves whose window ended longer ago are not checked: a node that was down longer records no stale findings. */
const LOOKBACK_MS = 15 * 60_000;
/** Stragglers listed in a finding; `count` has them all. */
const MAX_LISTED = 50;

export interface StragglerSources {
  store: FleetStore;
  aliasStates(model: string): AliasState[];
  /** The audit log (registry.audit). */
  audit: { recordFinding(action: string, target: string, details: Record<string, unknown>, actor: Actor): Promise<number> };
}

export class StragglerFindings {
  /** Moves this node has checked, with when their window ended: each is checked once. */
  private readonly checked = new Map<string, number>();

  constructor(
    private readonly sources: StragglerSources,
    /** Another node's counts reach the store within this long (its flush interval). */
    private readonly settleMs: number,
  ) {}

  /** Records a finding for each move whose window just passed with stragglers; returns how many this node recorded. */
  async check(opts: ViewOptions): Promise<number> {
    for (const [key, ended] of this.checked) if (opts.now - ended > LOOKBACK_MS * 2) this.checked.delete(key);
    let recorded = 0;
    for (const model of await this.sources.store.models()) {
      const due = movesPastWindow(this.sources.aliasStates(model), opts, this.settleMs, LOOKBACK_MS).filter(
        (a) => !this.checked.has(moveKey(model, a)),
      );
      if (due.length === 0) continue;
      const behind = fleetSummary(await this.sources.store.observations(model), due, opts, MAX_LISTED).stragglers;
      for (const move of due) {
        const key = moveKey(model, move);
        this.checked.set(key, Date.parse(move.updatedAt) + opts.stragglerWindowMs);
        const found = behind.find((s) => s.alias === move.alias);
        if (!found || !(await this.sources.store.claim(key, opts.now))) continue;
        await this.sources.audit.recordFinding(STRAGGLERS_ACTION, `${model}@${move.alias}`, details(move, found, opts), FLEET_ACTOR);
        recorded++;
      }
    }
    return recorded;
  }
}

function details(move: AliasState, found: StragglerList, opts: ViewOptions): Record<string, unknown> {
  return {
    alias: move.alias,
    version: move.version,
    digest: move.digest,
    movedAt: move.updatedAt,
    windowSeconds: opts.stragglerWindowMs / 1000,
    count: found.count,
    instances: found.instances,
  };
}

function moveKey(model: string, move: AliasState): string {
  return `stragglers\t${model}\t${move.alias}\t${move.updatedAt}`;
}
