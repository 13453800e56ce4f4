// How an audit entry is sealed into the chain. A plain entry's hash covers its canonical JSON and
// the previous hash. A compound entry (audit-steps.ts: one commit that did several things) is
// sealed step by step (`seal: 'steps'`): its hash covers each step's own digest instead of the
// steps themselves, so a reader may be shown some steps and only the digests of the others (a
// stack's auditor sees the flag on its stack in a retire of another scope's component, not the
// component or its reason) and still recompute the entry's hash. Compound entries written before
// step seals existed carry no `seal` and keep the whole-entry hash; both verify.
import { createHash } from 'node:crypto';
import type { AuditEntry } from './types.js';

export const GENESIS_HASH = 'sha256:' + '0'.repeat(64);

/** A step of a compound entry replaced by its digest (a reader outside its scope). */
export interface RedactedStep {
  redacted: true;
  digest: string;
}

/** What one step seals: its action, target and details (a compound entry's main step without `steps`). */
export interface SealedStep {
  action: string;
  target: string;
  details: Record<string, unknown>;
}

type Unsealed = Omit<AuditEntry, 'hash'> & {
  /** Set on a partial view whose main step is outside the reader's scope (audit-scope.ts). */
  mainDigest?: string;
};

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** The digest one step contributes to a step-sealed entry's hash. */
export function stepDigest(step: SealedStep): string {
  return sha256(JSON.stringify({ action: step.action, target: step.target, details: step.details }));
}

export function isRedactedStep(step: unknown): step is RedactedStep {
  return typeof step === 'object' && step !== null && (step as RedactedStep).redacted === true;
}

/** The main step of a compound entry: its own action, target and details, without the list of the others. */
export function mainStep(entry: Pick<AuditEntry, 'action' | 'target' | 'details'>): SealedStep {
  const { steps: _steps, ...details } = entry.details;
  return { action: entry.action, target: entry.target, details };
}

/** The entry as it is written: step-sealed when it lists other steps. */
export function sealEntry(unsealed: Omit<AuditEntry, 'hash' | 'seal'>): AuditEntry {
  const withSeal: Omit<AuditEntry, 'hash'> = Array.isArray(unsealed.details.steps) ? { ...unsealed, seal: 'steps' } : unsealed;
  return { ...withSeal, hash: auditHash(withSeal) };
}

/** The hash that seals an audit entry: over the previous hash and the entry's content (or its steps' digests). */
export function auditHash(entry: Unsealed): string {
  if (entry.seal === 'steps') {
    const others = Array.isArray(entry.details.steps) ? (entry.details.steps as unknown[]) : [];
    const digests = [
      entry.mainDigest ?? stepDigest(mainStep(entry)),
      ...others.map((step) => (isRedactedStep(step) ? step.digest : stepDigest(step as SealedStep))),
    ];
    return sha256(
      JSON.stringify({
        seq: entry.seq,
        at: entry.at,
        actor: { id: entry.actor.id, name: entry.actor.name },
        seal: 'steps',
        steps: digests,
        prevHash: entry.prevHash,
      }),
    );
  }
  return sha256(
    JSON.stringify({
      seq: entry.seq,
      at: entry.at,
      actor: { id: entry.actor.id, name: entry.actor.name },
      action: entry.action,
      target: entry.target,
      details: entry.details,
      prevHash: entry.prevHash,
    }),
  );
}
