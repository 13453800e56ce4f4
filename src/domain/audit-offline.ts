// `audit verify --offline`: an exported log (JSON Lines, as `audit export` writes it) verified with
// nothing but the file and public keys. The chain is recomputed as the server would; then it must
// be anchored: at least one checkpoint in it signed by one of the given keys, and, when the caller kept a head
// from elsewhere (`--expect-head SEQ:HASH`), that entry with that hash. A log rewritten and
// rechained after a checkpoint was taken fails at that checkpoint; one rechained without its
// checkpoints fails against a head kept elsewhere.
import type { KeyObject } from 'node:crypto';
import { ChainWalk, type AuditVerification, type ChainLine } from './audit-verify.js';
import { keyIdOf } from './checkpoint.js';

export interface OfflineOptions {
  publicKeys: readonly KeyObject[];
  expectHead?: { seq: number; hash: string };
}

export interface OfflineVerification extends AuditVerification {
  /** The first sequence in the file (its link to the entry before is taken on trust unless it is 1). */
  firstSeq: number | null;
  /** The keys given, by id. */
  keyIds: string[];
  expectedHead?: { seq: number; hash: string; found: string | null };
}

/** Parses `SEQ:HASH` (as `audit verify` and checkpoints print them); null when it is not one. */
export function parseHead(text: string): { seq: number; hash: string } | null {
  const m = /^([0-9]{1,15}):(sha256:[0-9a-f]{64})$/.exec(text.trim());
  return m ? { seq: Number(m[1]), hash: m[2]! } : null;
}

export function verifyExport(text: string, options: OfflineOptions): OfflineVerification {
  const keys = new Map(options.publicKeys.map((k) => [keyIdOf(k), k]));
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let walk: ChainWalk | null = null;
  let firstSeq: number | null = null;
  let found: string | null = null;
  let parseFailure: { seq: number; reason: string } | null = null;
  for (let i = 0; i < lines.length; i++) {
    let entry: ChainLine;
    try {
      entry = JSON.parse(lines[i]!) as ChainLine;
    } catch {
      parseFailure = { seq: (firstSeq ?? 1) + i, reason: `line ${i + 1} is not a complete JSON entry (a truncated or damaged export)` };
      break;
    }
    if (entry === null || typeof entry !== 'object' || typeof entry.seq !== 'number') {
      parseFailure = { seq: (firstSeq ?? 1) + i, reason: `line ${i + 1} is not an audit entry` };
      break;
    }
    if (!walk) {
      firstSeq = entry.seq;
      walk = new ChainWalk({ publicKey: (id) => keys.get(id) }, entry.seq);
    }
    if (!walk.push(entry)) break;
    if (options.expectHead && entry.seq === options.expectHead.seq) found = entry.hash;
  }
  const base: AuditVerification = walk
    ? walk.result()
    : { ok: false, entries: 0, headSeq: 0, headHash: '', firstBad: { seq: 0, reason: 'the export holds no entry' } };
  const result: OfflineVerification = { ...base, firstSeq, keyIds: [...keys.keys()] };
  if (options.expectHead) result.expectedHead = { ...options.expectHead, found };
  if (!result.ok) return result;
  if (parseFailure) return { ...result, ok: false, firstBad: parseFailure };
  const fail = (seq: number, reason: string): OfflineVerification => ({ ...result, ok: false, firstBad: { seq, reason } });
  if (options.expectHead) {
    const want = options.expectHead;
    if (found === null) {
      return fail(
        want.seq,
        want.seq > result.headSeq
          ? `the export ends at seq ${result.headSeq}, before the expected head ${want.seq} (truncated?)`
          : `the export starts at seq ${firstSeq}, after the expected head ${want.seq}`,
      );
    }
    if (found !== want.hash)
      return fail(want.seq, `entry ${want.seq} has hash ${found}, not the expected ${want.hash}: the log was rewritten`);
  }
  const tally = result.checkpoints!;
  if (tally.verified === 0) {
    const others = tally.unknownKeys.length > 0 ? ` (its checkpoints are signed by ${tally.unknownKeys.join(', ')})` : ' (it holds none)';
    return fail(result.headSeq, `no checkpoint in the export is signed by ${[...keys.keys()].join(', ') || 'the given key'}${others}`);
  }
  return result;
}
