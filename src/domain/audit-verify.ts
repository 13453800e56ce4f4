import type { RegistryReader } from './state.js';
import { auditHash, GENESIS_HASH } from './audit-chain.js';
import { checkTablesAgainstLog, type TableCheck } from './audit-tables.js';

export interface AuditVerification {
  ok: boolean;
  entries: number;
  headSeq: number;
  headHash: string;
  firstBad?: { seq: number; reason: string };
  /** The tables the service answers from, compared with the log (absent from a chain-only check). */
  tables?: TableCheck;
}

/**
 * What `audit verify` answers: the chain recomputed, and every table it serves from (alias history,
 * approvals, version records, tokens) compared with the log. Either failing fails the whole; the
 * first bad sequence is the chain's break if there is one, else the earliest table mismatch.
 */
export function verifyAudit(store: RegistryReader): AuditVerification {
  const chain = verifyAuditChain(store);
  const tables = checkTablesAgainstLog(store);
  const first = tables.mismatches[0];
  const firstBad = chain.firstBad ?? (first ? { seq: first.seq, reason: `${first.table} ${first.key}: ${first.reason}` } : undefined);
  return { ...chain, ok: chain.ok && tables.ok, ...(firstBad ? { firstBad } : {}), tables };
}

const BATCH = 10_000;

/** Recomputes the whole chain: sequence continuity, each link to the previous hash, each entry's own hash. */
export function verifyAuditChain(store: RegistryReader): AuditVerification {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let entries = 0;
  for (;;) {
    const batch = store.auditEntries(expectedSeq, BATCH);
    if (batch.length === 0) break;
    for (const entry of batch) {
      const bad = (reason: string): AuditVerification => ({
        ok: false,
        entries,
        headSeq: expectedSeq - 1,
        headHash: prevHash,
        firstBad: { seq: entry.seq ?? expectedSeq, reason },
      });
      if (entry.seq !== expectedSeq) return bad(`expected sequence ${expectedSeq}, found ${entry.seq}`);
      if (entry.prevHash !== prevHash) return bad(`prevHash ${entry.prevHash} does not match the previous entry's hash ${prevHash}`);
      const { hash, ...unsealed } = entry;
      const recomputed = auditHash(unsealed);
      if (recomputed !== hash) return bad(`content does not match its hash (recomputed ${recomputed}, stored ${hash})`);
      prevHash = hash;
      expectedSeq++;
      entries++;
    }
  }
  const last = expectedSeq - 1;
  if (last < store.currentSeq()) {
    return {
      ok: false,
      entries,
      headSeq: last,
      headHash: prevHash,
      firstBad: { seq: last + 1, reason: `entry ${last + 1} is missing (the registry is at sequence ${store.currentSeq()})` },
    };
  }
  return { ok: true, entries, headSeq: last, headHash: prevHash };
}
