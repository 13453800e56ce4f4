// What of the audit log a scoped reader sees. An entry about a model in the reader's scope is shown
// whole; checkpoints are shown to everyone (they carry only a head hash, and a scoped export needs
// them to verify offline); everything else (other models, tokens, GC, blob repairs, refusals that
// name no model in scope) is outside. A full read of the chain replaces an outside entry by its
// place in the chain (sequence, previous hash, hash), so the export still verifies without
// revealing it; a filtered read leaves outside entries out altogether, so a filter cannot be used
// to learn what they are.
//
// A compound entry (audit-steps.ts) is about every model one of its steps names: the retire of a
// component is also about each stack it flags, so an auditor of a stack's scope sees the flag in
// the log even when the component is in another scope. The entry is then shown whole, steps about
// other models included: its hash covers all of them, and a part of it would not verify offline.
import type { RedactedEntry } from './audit-verify.js';
import { auditSteps, stepModel } from './audit-steps.js';
import { CHECKPOINT_ACTION } from './checkpoint.js';
import type { AuditEntry } from './types.js';

/** The models an entry is about, each step's (a plain entry is its one step); empty when it concerns none. */
export function entryModels(entry: AuditEntry): string[] {
  const models = new Set<string>();
  for (const step of auditSteps(entry)) {
    const model = stepModel(step);
    if (model !== null) models.add(model);
  }
  return [...models];
}

/** Whether a reader whose scope admits `inScope` models sees the entry whole. */
export function entryVisible(entry: AuditEntry, inScope: (model: string) => boolean): boolean {
  if (entry.action === CHECKPOINT_ACTION) return true;
  return entryModels(entry).some(inScope);
}

/** The entry's place in the chain and nothing else. */
export function redact(entry: AuditEntry): RedactedEntry {
  return { seq: entry.seq, prevHash: entry.prevHash, hash: entry.hash, redacted: true };
}
