// What of the audit log a scoped reader sees. An entry about a model in the reader's scope is shown
// whole; checkpoints are shown to everyone (they carry only a head hash, and a scoped export needs
// them to verify offline); everything else (other models, tokens, GC, blob repairs, refusals that
// name no model in scope) is outside. A full read of the chain replaces an outside entry by its
// place in the chain (sequence, previous hash, hash), so the export still verifies without
// revealing it; a filtered read leaves outside entries out altogether, so a filter cannot be used
// to learn what they are.
import type { RedactedEntry } from './audit-verify.js';
import { CHECKPOINT_ACTION } from './checkpoint.js';
import type { AuditEntry } from './types.js';

const MODEL_ACTIONS = ['model.', 'version.', 'alias.', 'manifest.', 'denied.'];

/** The model an entry is about, or null when it concerns none (tokens, GC, blobs, the log itself). */
export function entryModel(entry: AuditEntry): string | null {
  if (!MODEL_ACTIONS.some((prefix) => entry.action.startsWith(prefix))) return null;
  const target = entry.target;
  if (target.startsWith('/')) return null; // a refusal filed under the path it named, not a model
  const at = target.lastIndexOf('@');
  return at > 0 ? target.slice(0, at) : target;
}

/** Whether a reader whose scope admits `inScope` models sees the entry whole. */
export function entryVisible(entry: AuditEntry, inScope: (model: string) => boolean): boolean {
  if (entry.action === CHECKPOINT_ACTION) return true;
  const model = entryModel(entry);
  return model !== null && inScope(model);
}

/** The entry's place in the chain and nothing else. */
export function redact(entry: AuditEntry): RedactedEntry {
  return { seq: entry.seq, prevHash: entry.prevHash, hash: entry.hash, redacted: true };
}
