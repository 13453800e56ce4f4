import type { RegistryReader } from './state.js';
import { auditHash, GENESIS_HASH } from './audit-chain.js';

export interface AuditVerification {
  ok: boolean;
  entries: number;
  headSeq: number;
  headHash: string;
  firstBad?: { seq: number; reason: string };
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
