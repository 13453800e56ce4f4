// Throwaway LMDB tables in a fresh directory, for the start-up rehearsal of the change path
// (registry/warm-up.ts): the same state class and write path a node's replica uses, removed after.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Write } from '../domain/writes.js';
import { LmdbState } from './lmdb-state.js';

/** Opens scratch tables under `dir` (the OS temp dir by default); what registry/warm-up.ts calls ScratchTables. */
export function openLmdbScratch(dir: string = tmpdir()): { state: LmdbState; apply(writes: Write[]): void; dispose(): void } {
  const path = mkdtempSync(join(dir, 'modelgate-warm-up-'));
  const state = new LmdbState(path, { flush: false });
  return {
    state,
    apply: (writes) => state.transactionSync(() => state.apply(writes)),
    dispose: () => {
      void state.close();
      rmSync(path, { recursive: true, force: true });
    },
  };
}
