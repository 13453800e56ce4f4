// One commit, one sequence number, one audit entry; but a commit may do several things at once (an
// OCI manifest push registers a version, records the manifest and moves an alias). Its entry is
// then compound: the main step's entry, listing the others in `details.steps`, each in the shape
// it would have alone. Whatever reads the log by action (audit verify, watchers, audit queries)
// reads it through auditSteps, so a step inside a compound entry counts like one on its own.
import { isRedactedStep } from './audit-chain.js';
import { STRAGGLERS_ACTION } from './fleet-view.js';
import type { AuditEntry } from './types.js';

/** What one step would log on its own. */
export interface AuditStep {
  action: string;
  target: string;
  details: Record<string, unknown>;
}

/**
 * The entry as its steps, each with the entry's sequence number, time, actor and hashes; a plain
 * entry is its one step. Of a scoped reader's partial view (audit-scope.ts) only the steps shown:
 * a step present as its digest alone is no step anyone can read or match.
 */
export function auditSteps(entry: AuditEntry & { mainDigest?: string }): AuditEntry[] {
  const steps = entry.details.steps;
  if (!Array.isArray(steps)) return [entry];
  const { steps: _nested, ...details } = entry.details;
  const main = entry.mainDigest === undefined ? [{ ...entry, details }] : [];
  const shown = (steps as unknown[]).filter((step): step is AuditStep => !isRedactedStep(step));
  return [...main, ...shown.map((step) => ({ ...entry, ...step }))];
}

const MODEL_ACTIONS = ['model.', 'version.', 'alias.', 'manifest.', 'denied.'];

/**
 * The model one step is about, or null when it concerns none (tokens, GC, blobs, unregistered
 * weights, the log itself). A straggler finding is about the alias it names. The one rule for it:
 * audit scopes and webhook scopes both read it.
 */
export function stepModel(step: { action: string; target: string }): string | null {
  if (step.action !== STRAGGLERS_ACTION && !MODEL_ACTIONS.some((prefix) => step.action.startsWith(prefix))) return null;
  const target = step.target;
  if (target.startsWith('/')) return null; // a refusal filed under the path it named, not a model
  const at = target.lastIndexOf('@');
  return at > 0 ? target.slice(0, at) : target;
}
