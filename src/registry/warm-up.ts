// A node's change path, rehearsed at start-up on a scratch copy of the tables. A change reaches a
// node rarely (a rollback, a promotion), so the code that plans, commits, applies and reads one —
// msgpackr's codec, LMDB's keys and writes, the plans, the audit chain — would otherwise run in
// V8's interpreter for the first few hundred changes, and be compiled by TurboFan on every node
// at the same change (each node runs the same code as often), which is when propagation stretched
// (bench/results/20261206-propagation-trace.md). The rehearsal runs the same functions on
// throwaway data in a scratch LMDB environment that is removed afterwards: the node's own
// tables, Redis and the audit log are never touched.
import { changeMessages } from './change-feed.js';
import { planCreateModel, planMoveAlias, planRegisterVersion } from '../domain/plans.js';
import { buildResolution } from '../domain/resolution.js';
import type { RegistryReader } from '../domain/state.js';
import type { Actor } from '../domain/types.js';
import type { Batch, Plan, Write } from '../domain/writes.js';

/** Tables the rehearsal may write to and drop (the factory that reads the configuration picks the backend). */
export interface ScratchTables {
  state: RegistryReader;
  /** Applies one commit's writes, as a replica applies a shipped batch. */
  apply(writes: Write[]): void;
  /** Closes and removes the tables. */
  dispose(): void;
}

const ACTOR: Actor = { id: 'warm-up', name: 'warm-up' };
const MODEL = 'warm-up/model';

/**
 * Plans `changes` alias moves (with a registration or two first), ships each as the JSON a
 * replica receives, applies it, and reads it back as a watcher and a resolve would. Returns the
 * milliseconds it took and the scratch tables' last sequence; the tables are disposed of before
 * this returns.
 */
export function rehearseChanges(changes: number, openScratch: () => ScratchTables): { ms: number; seq: number } {
  const started = performance.now();
  const scratch = openScratch();
  const { state } = scratch;
  try {
    const commit = <R>(plan: Plan<R>): void => {
      const batch: Batch = { seq: state.currentSeq() + 1, writes: plan.writes, ...(plan.change ? { change: plan.change } : {}) };
      const shipped = JSON.parse(JSON.stringify(batch)) as Batch;
      scratch.apply(shipped.writes);
      for (const entry of state.auditEntries(shipped.seq, 1)) changeMessages(entry, state);
    };
    commit(planCreateModel(state, MODEL, { description: '', owner: ACTOR.name, tags: [] }, ACTOR));
    for (let v = 1; v <= 2; v++) {
      const digest = `sha256:${String(v).repeat(64)}`;
      const files = [{ path: 'model.safetensors', size: v, digest }];
      const record = { metadata: {}, lineage: {}, metrics: {}, card: {} };
      commit(planRegisterVersion(state, { name: MODEL, files, digest: `sha256:${String(v + 2).repeat(64)}`, size: v, record }, ACTOR));
    }
    for (let i = 0; i < changes; i++) {
      const to = (i % 2) + 1;
      commit(planMoveAlias(state, { name: MODEL, alias: 'production', to, action: i === 0 ? 'set' : 'rollback' }, ACTOR));
      const pointer = state.getAlias(MODEL, 'production');
      const version = pointer && state.getVersion(MODEL, pointer.version);
      if (pointer && version) buildResolution(MODEL, 'production', version, pointer, (n, v) => state.getVersion(n, v));
    }
    return { ms: performance.now() - started, seq: state.currentSeq() };
  } finally {
    scratch.dispose();
  }
}
