// The registry's door to the hash-chained audit log: filtered pages of it, its verification, and
// the entries for refusals (which change no registry state but are kept with everything else).
import type { KeyObject } from 'node:crypto';
import { auditSteps } from '../domain/audit-steps.js';
import { scopedView } from '../domain/audit-scope.js';
import type { TableMismatch } from '../domain/audit-tables.js';
import { verifyAudit, type AuditVerification, type ChainLine } from '../domain/audit-verify.js';
import type { Actor, AuditEntry } from '../domain/types.js';
import type { ControlStore } from '../store/control-store.js';

const SCAN_BATCH = 5000;

export interface AuditQuery {
  fromSeq: number;
  toSeq: number;
  limit: number;
  /** Entries whose target is the model or one of its `model@…` references. */
  model?: string;
  /** Token id or name. */
  actor?: string;
  /** An exact action or a prefix (`alias` matches `alias.*`). */
  action?: string;
  /**
   * The reader's scope, when it is not `*`: entries about models outside it are redacted to their
   * place in the chain in a full read, and left out of a filtered one; a compound entry with steps
   * on both sides is shown in part (see domain/audit-scope.ts).
   */
  inScope?: (model: string) => boolean;
}

/** A refused request as the audit log keeps it. */
export interface Refusal {
  route: string;
  method: string;
  path: string;
  status: number;
  code: string;
  message: string;
  /** The model the request named, if it named one; the entry is filed under it. */
  model: string | null;
}

export class AuditLog {
  constructor(
    private readonly store: ControlStore,
    /** The public key for a checkpoint's key id (the keyring's active and retired keys). */
    private readonly publicKey: (keyId: string) => KeyObject | undefined = () => undefined,
  ) {}

  /** Matching entries from `fromSeq` on, and where the next page starts (null at the end). */
  query(q: AuditQuery): { entries: AuditEntry[]; nextSeq: number | null };
  query(q: AuditQuery & { inScope: (model: string) => boolean }): { entries: ChainLine[]; nextSeq: number | null };
  query(q: AuditQuery): { entries: ChainLine[]; nextSeq: number | null } {
    const filtered = Boolean(q.model || q.actor || q.action);
    const inScope = q.inScope;
    // Matched on what the reader sees: a step shown only as its digest matches no filter.
    const matches = (e: AuditEntry) =>
      // A step of a compound entry counts like an entry of its own (a retire that flags a stack of another model).
      (!q.model || auditSteps(e).some((step) => step.target === q.model || step.target.startsWith(`${q.model}@`))) &&
      (!q.actor || e.actor.id === q.actor || e.actor.name === q.actor) &&
      (!q.action || auditSteps(e).some((step) => step.action === q.action || step.action.startsWith(`${q.action}.`)));
    const entries: ChainLine[] = [];
    let next = q.fromSeq;
    let exhausted = false;
    while (entries.length < q.limit) {
      const batch = this.store.auditEntries(next, SCAN_BATCH);
      if (batch.length === 0) {
        exhausted = true;
        break;
      }
      for (const e of batch) {
        next = e.seq + 1;
        if (e.seq > q.toSeq) {
          exhausted = true;
          break;
        }
        const line = inScope ? scopedView(e, inScope) : e;
        if ('redacted' in line) {
          if (!filtered) entries.push(line);
        } else if (matches(line)) entries.push(line);
        if (entries.length === q.limit) break;
      }
      if (exhausted) break;
    }
    return { entries, nextSeq: exhausted ? null : next };
  }

  /**
   * The chain recomputed and the tables the service answers from compared with it. For a scoped
   * reader, the table rows that differ are cut to its scope (the chain's verdict is global).
   */
  verify(inScope?: (model: string) => boolean): AuditVerification {
    const result = verifyAudit(this.store, { publicKey: this.publicKey });
    if (!inScope || !result.tables) return result;
    const visible = (m: TableMismatch) => m.table !== 'tokens' && inScope(JSON.parse(m.key)[0] as string);
    const mismatches = result.tables.mismatches.filter(visible);
    // A row outside the scope still fails verification, but is not described.
    const first = result.tables.mismatches[0];
    const chainBroken =
      result.firstBad !== undefined && (!first || result.firstBad.seq !== first.seq || !result.firstBad.reason.startsWith(first.table));
    const firstBad =
      result.firstBad && !chainBroken && first && !visible(first)
        ? { seq: first.seq, reason: "a table row outside this token's scope differs from the log" }
        : result.firstBad;
    return { ...result, ...(firstBad ? { firstBad } : {}), tables: { ...result.tables, mismatches } };
  }

  /** Appends the refusal as `denied.<route>`; resolves with its sequence number once committed. */
  recordRefusal(refusal: Refusal, actor: Actor): Promise<number> {
    const { route, method, path, status, code, message, model } = refusal;
    const details = { method, path: path.slice(0, 300), status, code, message: message.slice(0, 500) };
    return this.store.appendAudit(`denied.${route}`, model ?? path.slice(0, 300), details, { id: actor.id, name: actor.name });
  }

  /** Appends an entry for something observed rather than changed (a newly reported unregistered model). */
  recordFinding(action: string, target: string, details: Record<string, unknown>, actor: Actor): Promise<number> {
    return this.store.appendAudit(action, target, details, { id: actor.id, name: actor.name });
  }
}
