// Where fleet telemetry is kept and shared between nodes: beside the control store (the same
// LMDB data directory or the same Redis), but in tables of its own. Nothing here touches the
// registry's sequence or audit chain; rows expire by age, and the number of rows is capped. Claims
// let one node of several act once on something every node notices (a straggler finding).
import type { FleetObservation, UnregisteredArtifact } from '../domain/fleet.js';

export interface MergeResult {
  /** Observations refused because the store holds `cap` rows already (new keys only; existing rows still update). */
  dropped: number;
  /** The keys that had no row before this merge. */
  created: number;
}

export interface FleetStore {
  /** Folds a batch into the stored rows (domain/fleet.ts mergeObservations), atomically. */
  mergeObservations(batch: readonly FleetObservation[], cap: number): Promise<MergeResult>;
  /** Every stored observation of the model. */
  observations(model: string): Promise<FleetObservation[]>;
  /** Models with at least one stored observation. */
  models(): Promise<string[]>;
  /**
   * Per model, a count that moves whenever a merge (from any node sharing the store) writes its
   * rows: a reader compares it with the count it saw last to learn which models changed elsewhere.
   */
  changeCounts(): Promise<Map<string, number>>;
  /** Folds reported unregistered artifacts in; `created` lists the ones seen for the first time. */
  mergeArtifacts(batch: readonly UnregisteredArtifact[], cap: number): Promise<{ dropped: number; created: UnregisteredArtifact[] }>;
  unregistered(): Promise<UnregisteredArtifact[]>;
  /**
   * Claims `key` for the caller at `at` (epoch ms): true for the first claim of the key on this
   * store, whichever node makes it, false for every later one. Pruned by `at` like rows.
   */
  claim(key: string, at: number): Promise<boolean>;
  /** Removes observations and artifacts last seen before `before` (epoch ms), and claims made before it; returns how many rows. */
  prune(before: number): Promise<number>;
  close(): Promise<void>;
}
