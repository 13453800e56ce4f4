// Fleet telemetry on one node: an LMDB environment of its own under the data directory, so the
// registry's environment (and its replica on Redis nodes) never carries telemetry writes.
import { open, type Database, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  artifactKey,
  capRows,
  foldByKey,
  mergeArtifacts,
  mergeObservations,
  observationKey,
  type FleetObservation,
  type UnregisteredArtifact,
} from '../../domain/fleet.js';
import type { FleetStore, MergeResult } from '../fleet-store.js';

export class LmdbFleetStore implements FleetStore {
  private readonly root: RootDatabase;
  private readonly obs: Database<FleetObservation, string>;
  private readonly artifacts: Database<UnregisteredArtifact, string>;
  private readonly claims: Database<{ lastSeen: number }, string>;
  /** This environment belongs to one node, so only its own merges change it: counted in memory. */
  private readonly changes = new Map<string, number>();

  constructor(dataDir: string) {
    const dir = join(dataDir, 'fleet');
    mkdirSync(dir, { recursive: true });
    this.root = open({ path: dir, maxDbs: 4 });
    this.obs = this.root.openDB<FleetObservation, string>({ name: 'observations' });
    this.artifacts = this.root.openDB<UnregisteredArtifact, string>({ name: 'unregistered' });
    this.claims = this.root.openDB<{ lastSeen: number }, string>({ name: 'claims' });
  }

  async mergeObservations(batch: readonly FleetObservation[], cap: number): Promise<MergeResult> {
    const merged = await this.merge(this.obs, foldByKey(batch, observationKey, mergeObservations), mergeObservations, cap);
    for (const model of new Set(merged.writes.map(([, row]) => row.model))) this.changes.set(model, (this.changes.get(model) ?? 0) + 1);
    return { dropped: merged.dropped, created: merged.created.length };
  }

  /** Folds `rows` into `db` in one transaction under the row cap (domain/fleet.ts capRows). */
  private merge<T>(db: Database<T, string>, rows: Map<string, T>, merge: (stored: T, incoming: T) => T, cap: number) {
    return db.transaction(() => {
      const count = (db.getStats() as { entryCount: number }).entryCount;
      const done = capRows(rows, (key) => db.get(key), merge, count, cap);
      for (const [key, row] of done.writes) db.put(key, row);
      return done;
    });
  }

  async observations(model: string): Promise<FleetObservation[]> {
    return [...this.obs.getRange({ start: `${model}\t`, end: `${model}\t\uffff` }).map((e) => e.value)];
  }

  /**
   * One key lookup per model, skipping past each model's rows: the straggler check asks every
   * second, and reading every key (100,000 with as many instances) doubled the fleet bench's time
   * and memory.
   */
  async models(): Promise<string[]> {
    const names: string[] = [];
    let start = '';
    for (;;) {
      let key: string | undefined;
      for (const k of this.obs.getKeys({ start, limit: 1 })) key = k;
      if (key === undefined) return names;
      const model = key.slice(0, key.indexOf('\t'));
      names.push(model);
      start = `${model}\t\uffff`;
    }
  }

  async changeCounts(): Promise<Map<string, number>> {
    return new Map(this.changes);
  }

  async mergeArtifacts(batch: readonly UnregisteredArtifact[], cap: number): Promise<{ dropped: number; created: UnregisteredArtifact[] }> {
    const merged = await this.merge(this.artifacts, foldByKey(batch, artifactKey, mergeArtifacts), mergeArtifacts, cap);
    return { dropped: merged.dropped, created: merged.created };
  }

  async unregistered(): Promise<UnregisteredArtifact[]> {
    return [...this.artifacts.getRange({}).map((e) => e.value)];
  }

  claim(key: string, at: number): Promise<boolean> {
    return this.claims.ifNoExists(key, () => this.claims.put(key, { lastSeen: at }));
  }

  async prune(before: number): Promise<number> {
    return this.root.transaction(() => {
      for (const { key, value } of this.claims.getRange({})) if (value.lastSeen < before) this.claims.remove(key);
      let removed = 0;
      for (const db of [this.obs, this.artifacts] as Database<{ lastSeen: number }, string>[]) {
        for (const { key, value } of db.getRange({})) {
          if (value.lastSeen < before) {
            db.remove(key);
            removed++;
          }
        }
      }
      return removed;
    });
  }

  close(): Promise<void> {
    return this.root.close();
  }
}
