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
// the log even when the component is in another scope. A step-sealed entry (audit-chain.ts) is then
// shown in part: the steps about the scope whole, every other step as its digest only (the retired
// component, its reason, the flags on other stacks), and its hash still recomputes. A compound
// entry written before step seals existed is shown whole, as it always was: its hash covers every
// step, so a part of it would not verify.
import { isRedactedStep, mainStep, stepDigest, type SealedStep } from './audit-chain.js';
import type { ChainLine, PartialEntry, RedactedEntry } from './audit-verify.js';
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

/** Whether a reader whose scope admits `inScope` models sees any of the entry. */
export function entryVisible(entry: AuditEntry, inScope: (model: string) => boolean): boolean {
  if (entry.action === CHECKPOINT_ACTION) return true;
  return entryModels(entry).some(inScope);
}

/**
 * The entry as a reader whose scope admits `inScope` models sees it: whole, in part (a step-sealed
 * entry with steps outside the scope), or only its place in the chain.
 */
export function scopedView(entry: AuditEntry, inScope: (model: string) => boolean): ChainLine {
  if (!entryVisible(entry, inScope)) return redact(entry);
  const steps = entry.details.steps;
  if (entry.seal !== 'steps' || !Array.isArray(steps)) return entry;
  const shows = (step: SealedStep) => {
    const model = stepModel(step);
    return model !== null && inScope(model);
  };
  const main = mainStep(entry);
  const others = (steps as unknown[]).filter((step): step is SealedStep => !isRedactedStep(step));
  if (shows(main) && others.every(shows)) return entry;
  const shownSteps = others.map((step) => (shows(step) ? step : { redacted: true as const, digest: stepDigest(step) }));
  const base = { seq: entry.seq, at: entry.at, actor: entry.actor, prevHash: entry.prevHash, hash: entry.hash, seal: 'steps' as const };
  const partial: PartialEntry = shows(main)
    ? { ...base, action: main.action, target: main.target, details: { ...main.details, steps: shownSteps }, partial: true }
    : { ...base, action: 'redacted', target: '', details: { steps: shownSteps }, partial: true, mainDigest: stepDigest(main) };
  return partial;
}

/** The entry's place in the chain and nothing else. */
export function redact(entry: AuditEntry): RedactedEntry {
  return { seq: entry.seq, prevHash: entry.prevHash, hash: entry.hash, redacted: true };
}
