// Fleet telemetry on one node: an LMDB environment of its own under the data directory, so the
// registry's environment (and its replica on Redis nodes) never carries telemetry writes.
import { open, type Database, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  artifactKey,
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

  constructor(dataDir: string) {
    const dir = join(dataDir, 'fleet');
    mkdirSync(dir, { recursive: true });
    this.root = open({ path: dir, maxDbs: 4 });
    this.obs = this.root.openDB<FleetObservation, string>({ name: 'observations' });
    this.artifacts = this.root.openDB<UnregisteredArtifact, string>({ name: 'unregistered' });
  }

  async mergeObservations(batch: readonly FleetObservation[], cap: number): Promise<MergeResult> {
    return this.obs.transaction(() => {
      let count = (this.obs.getStats() as { entryCount: number }).entryCount;
      let dropped = 0;
      let created = 0;
      for (const o of batch) {
        const key = observationKey(o);
        const old = this.obs.get(key);
        if (old) this.obs.put(key, mergeObservations(old, o));
        else if (count < cap) {
          this.obs.put(key, o);
          count++;
          created++;
        } else dropped++;
      }
      return { dropped, created };
    });
  }

  async observations(model: string): Promise<FleetObservation[]> {
    return [...this.obs.getRange({ start: `${model}\t`, end: `${model}\t\uffff` }).map((e) => e.value)];
  }

  async models(): Promise<string[]> {
    const names: string[] = [];
    for (const key of this.obs.getKeys({})) {
      const model = key.slice(0, key.indexOf('\t'));
      if (names[names.length - 1] !== model) names.push(model);
    }
    return names;
  }

  async mergeArtifacts(batch: readonly UnregisteredArtifact[], cap: number): Promise<{ dropped: number; created: UnregisteredArtifact[] }> {
    return this.artifacts.transaction(() => {
      let count = (this.artifacts.getStats() as { entryCount: number }).entryCount;
      let dropped = 0;
      const created: UnregisteredArtifact[] = [];
      for (const a of batch) {
        const key = artifactKey(a);
        const old = this.artifacts.get(key);
        if (old) this.artifacts.put(key, mergeArtifacts(old, a));
        else if (count < cap) {
          this.artifacts.put(key, a);
          count++;
          created.push(a);
        } else dropped++;
      }
      return { dropped, created };
    });
  }

  async unregistered(): Promise<UnregisteredArtifact[]> {
    return [...this.artifacts.getRange({}).map((e) => e.value)];
  }

  async prune(before: number): Promise<number> {
    return this.root.transaction(() => {
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
