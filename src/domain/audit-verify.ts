// Verification of the hash-chained audit log, online (the server's own store) and offline (an
// exported JSON Lines file and a public key, with no server). One walk serves both: sequence
// continuity, each link to the previous hash, each entry's own hash, and each recorded checkpoint
// against the chain it covers and the key that signed it.
import type { KeyObject } from 'node:crypto';
import type { RegistryReader } from './state.js';
import { auditHash, GENESIS_HASH } from './audit-chain.js';
import { checkTablesAgainstLog, type TableCheck } from './audit-tables.js';
import { asCheckpoint, CHECKPOINT_ACTION, checkpointSignatureValid } from './checkpoint.js';
import type { AuditEntry } from './types.js';

export interface CheckpointTally {
  /** Checkpoints whose signature verified with a known key and whose hash is the chain's. */
  verified: number;
  /** Checkpoints signed by a key the verifier does not have (their hash still matched the chain). */
  unverifiable: number;
  /** The last verified checkpoint. */
  last: { seq: number; hash: string; keyId: string; entrySeq: number } | null;
  /** Key ids of the unverifiable ones. */
  unknownKeys: string[];
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  headSeq: number;
  headHash: string;
  firstBad?: { seq: number; reason: string };
  /** The tables the service answers from, compared with the log (absent from a chain-only check). */
  tables?: TableCheck;
  checkpoints?: CheckpointTally;
  /** Entries present only as their hashes (a scoped export): linked, not recomputed. */
  redacted?: number;
  /** Entries of which some steps are present only as their digests (a scoped export): recomputed from them. */
  partial?: number;
}

/** An entry of a scoped export that stands outside the scope: only where it sits in the chain. */
export interface RedactedEntry {
  seq: number;
  prevHash: string;
  hash: string;
  redacted: true;
}

/**
 * A step-sealed entry of which a scoped reader sees only the steps about its scope: the others are
 * `{redacted: true, digest}` in `details.steps`, and a main step outside the scope leaves action
 * `redacted`, an empty target and its digest in `mainDigest`. Its hash still recomputes (audit-chain.ts).
 */
export interface PartialEntry extends AuditEntry {
  seal: 'steps';
  partial: true;
  mainDigest?: string;
}

export type ChainLine = AuditEntry | RedactedEntry | PartialEntry;

export interface WalkOptions {
  /** The public key for a checkpoint's key id, if the verifier has it. */
  publicKey?: (keyId: string) => KeyObject | undefined;
}

/**
 * Walks entries in order and stops at the first that does not belong. Feed it with push(); read
 * the verdict with result(). A chain may start later than 1 only when told (an export from a
 * sequence on); its first link is then taken on trust, and says so.
 */
export class ChainWalk {
  private expectedSeq: number;
  private prevHash: string | null;
  private entries = 0;
  private redacted = 0;
  private partial = 0;
  private bad: { seq: number; reason: string } | null = null;
  private readonly tally: CheckpointTally = { verified: 0, unverifiable: 0, last: null, unknownKeys: [] };

  constructor(
    private readonly options: WalkOptions = {},
    firstSeq = 1,
  ) {
    this.expectedSeq = firstSeq;
    this.prevHash = firstSeq === 1 ? GENESIS_HASH : null;
  }

  get broken(): boolean {
    return this.bad !== null;
  }

  /** Takes the next entry; returns false (and keeps the reason) at the first bad one. */
  push(entry: ChainLine): boolean {
    if (this.bad) return false;
    const fail = (reason: string) => {
      this.bad = { seq: typeof entry.seq === 'number' ? entry.seq : this.expectedSeq, reason };
      return false;
    };
    if (entry.seq !== this.expectedSeq) return fail(`expected sequence ${this.expectedSeq}, found ${entry.seq}`);
    if (this.prevHash !== null && entry.prevHash !== this.prevHash)
      return fail(`prevHash ${entry.prevHash} does not match the previous entry's hash ${this.prevHash}`);
    if ('redacted' in entry && entry.redacted === true) {
      if (typeof entry.hash !== 'string') return fail('a redacted entry without its hash');
      this.redacted++;
    } else {
      const full = entry as AuditEntry | PartialEntry;
      const { hash, ...unsealed } = full;
      if ('partial' in full && full.partial === true) {
        // Only a step-sealed entry can be shown in part; anything else claiming to be is not what was sealed.
        if (full.seal !== 'steps') return fail('a partial entry that is not sealed step by step');
        this.partial++;
      }
      const recomputed = auditHash(unsealed);
      if (recomputed !== hash) return fail(`content does not match its hash (recomputed ${recomputed}, stored ${hash})`);
      if (full.action === CHECKPOINT_ACTION) {
        const problem = this.checkpoint(full);
        if (problem) return fail(problem);
      }
    }
    this.prevHash = entry.hash;
    this.expectedSeq++;
    this.entries++;
    return true;
  }

  private checkpoint(entry: AuditEntry): string | null {
    const c = asCheckpoint(entry.details);
    if (!c) return 'a checkpoint entry without a complete checkpoint';
    if (c.seq !== entry.seq - 1 || c.hash !== entry.prevHash) {
      return `checkpoint signed seq ${c.seq} with hash ${c.hash}, but the chain has ${entry.prevHash} at seq ${entry.seq - 1}: the log before it was rewritten`;
    }
    const key = this.options.publicKey?.(c.keyId);
    if (!key) {
      this.tally.unverifiable++;
      if (!this.tally.unknownKeys.includes(c.keyId)) this.tally.unknownKeys.push(c.keyId);
      return null;
    }
    if (!checkpointSignatureValid(c, key)) return `checkpoint signature does not verify with key ${c.keyId}`;
    this.tally.verified++;
    this.tally.last = { seq: c.seq, hash: c.hash, keyId: c.keyId, entrySeq: entry.seq };
    return null;
  }

  /** The verdict so far. */
  result(): AuditVerification {
    const headSeq = this.expectedSeq - 1;
    return {
      ok: this.bad === null,
      entries: this.entries,
      headSeq,
      headHash: this.prevHash ?? GENESIS_HASH,
      ...(this.bad ? { firstBad: this.bad } : {}),
      checkpoints: { ...this.tally, unknownKeys: [...this.tally.unknownKeys] },
      ...(this.redacted > 0 ? { redacted: this.redacted } : {}),
      ...(this.partial > 0 ? { partial: this.partial } : {}),
    };
  }
}

/**
 * What `audit verify` answers: the chain recomputed (checkpoints included), and every table it
 * serves from (alias history, approvals, version records, tokens) compared with the log. Either
 * failing fails the whole; the first bad sequence is the chain's break if there is one, else the
 * earliest table mismatch.
 */
export function verifyAudit(store: RegistryReader, options: WalkOptions = {}): AuditVerification {
  const chain = verifyAuditChain(store, options);
  const tables = checkTablesAgainstLog(store);
  const first = tables.mismatches[0];
  const firstBad = chain.firstBad ?? (first ? { seq: first.seq, reason: `${first.table} ${first.key}: ${first.reason}` } : undefined);
  return { ...chain, ok: chain.ok && tables.ok, ...(firstBad ? { firstBad } : {}), tables };
}

const BATCH = 10_000;

/** Recomputes the whole chain: sequence continuity, each link to the previous hash, each entry's own hash, each checkpoint. */
export function verifyAuditChain(store: RegistryReader, options: WalkOptions = {}): AuditVerification {
  const walk = new ChainWalk(options);
  let next = 1;
  for (;;) {
    const batch = store.auditEntries(next, BATCH);
    if (batch.length === 0) break;
    for (const entry of batch) if (!walk.push(entry)) return walk.result();
    next = batch[batch.length - 1]!.seq + 1;
  }
  const result = walk.result();
  if (result.headSeq < store.currentSeq()) {
    const missing = result.headSeq + 1;
    return {
      ...result,
      ok: false,
      firstBad: { seq: missing, reason: `entry ${missing} is missing (the registry is at sequence ${store.currentSeq()})` },
    };
  }
  return result;
}
