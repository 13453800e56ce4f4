// What watchers receive: one message per committed change, built from its audit entry, which is
// the one record every sequence number has. Live delivery and replay after a reconnect therefore
// produce the same messages.
import { auditSteps } from '../domain/audit-steps.js';
import type { RegistryReader } from '../domain/state.js';
import type { AuditEntry } from '../domain/types.js';

export interface ChangeMessage {
  type: 'change';
  seq: number;
  model: string;
  action: string;
  at: string;
  actor: string;
  alias?: string;
  version?: number | null;
  previous?: number | null;
  digest?: string | null;
  /** On a record edit of a version that keeps serving on protected aliases: the record is not yet re-approved since `since`. */
  servingUnapproved?: { since: string; aliases: string[] };
  /** On `version.component-flagged`: which component of this stack was retired or rejected. */
  component?: { path: string; ref: string; status: string };
}

const WATCHED = /^(alias|version|model)\./;

/** The change messages for an audit entry: one for each step watchers see (none for tokens, refusals, GC). */
export function changeMessages(entry: AuditEntry, state: RegistryReader): ChangeMessage[] {
  const messages: ChangeMessage[] = [];
  for (const step of auditSteps(entry)) {
    const msg = changeMessage(step, state);
    if (msg) messages.push(msg);
  }
  return messages;
}

/** The change message for one step, or null for steps watchers do not see. */
function changeMessage(entry: AuditEntry, state: RegistryReader): ChangeMessage | null {
  if (!WATCHED.test(entry.action)) return null;
  const at = entry.target.indexOf('@');
  const model = at < 0 ? entry.target : entry.target.slice(0, at);
  const base: ChangeMessage = { type: 'change', seq: entry.seq, model, action: entry.action, at: entry.at, actor: entry.actor.name };
  const ref = at < 0 ? '' : entry.target.slice(at + 1);
  if (entry.action.startsWith('alias.')) {
    const to = (entry.details.to as number | null | undefined) ?? null;
    return {
      ...base,
      alias: ref,
      version: to,
      previous: (entry.details.from as number | null | undefined) ?? null,
      digest: to === null ? null : (state.getVersion(model, to)?.digest ?? null),
    };
  }
  if (entry.action.startsWith('version.')) {
    const version = Number(ref.slice(1));
    const unapproved = entry.details.servingUnapproved as ChangeMessage['servingUnapproved'] | undefined;
    return {
      ...base,
      version,
      digest: (entry.details.digest as string | undefined) ?? state.getVersion(model, version)?.digest ?? null,
      ...(unapproved ? { servingUnapproved: unapproved } : {}),
      ...(entry.action === 'version.component-flagged'
        ? { component: { path: String(entry.details.component), ref: String(entry.details.ref), status: String(entry.details.status) } }
        : {}),
    };
  }
  return base;
}
