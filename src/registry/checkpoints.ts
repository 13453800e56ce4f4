// Signed checkpoints of the audit chain, taken on demand and on a schedule. The store records each
// one as an audit entry in the same commit that reads the head it signs; a node without a signing
// key takes none. On several nodes the store's serialised commits act as the lease: the first
// node's checkpoint is the one, the others re-plan on its state and skip.
import { conflict } from '../domain/errors.js';
import { CHECKPOINT_ACTION, asCheckpoint, signCheckpoint, type Checkpoint } from '../domain/checkpoint.js';
import type { Actor } from '../domain/types.js';
import type { ControlStore } from '../store/control-store.js';
import type { AuditLog } from './audit-log.js';
import type { CheckpointKeyring, PublishedKey } from './checkpoint-keys.js';

/** The actor of scheduled checkpoints in the audit log. */
export const SCHEDULE_ACTOR: Actor = { id: 'system', name: 'checkpoint-schedule' };

export class Checkpoints {
  constructor(
    private readonly store: ControlStore,
    private readonly audit: AuditLog,
    private readonly keyring: CheckpointKeyring,
  ) {}

  /** Whether this node signs checkpoints. */
  canSign(): boolean {
    return this.keyring.signingKey !== null;
  }

  /**
   * Signs the current head. With `minIntervalMs`, nothing is taken while the last checkpoint is
   * younger (the schedule); in any case nothing new is taken when the chain has not moved.
   */
  async take(actor: Actor, minIntervalMs = 0): Promise<{ checkpoint: Checkpoint | null; created: boolean }> {
    const key = this.keyring.signingKey;
    const keyId = this.keyring.signingKeyId;
    if (!key || !keyId) {
      throw conflict(
        'NO_CHECKPOINT_KEY',
        'this node has no checkpoint signing key (checkpoints.keyFile); take checkpoints on a node configured with one',
      );
    }
    const { checkpoint, created } = await this.store.checkpoint((head) => signCheckpoint({ ...head, keyId }, key), minIntervalMs, actor);
    return { checkpoint, created };
  }

  /** Checkpoints recorded from `fromSeq` on, oldest first, with the sequence of the entry that holds each. */
  list(fromSeq: number, limit: number): { checkpoints: (Checkpoint & { entrySeq: number })[]; nextSeq: number | null } {
    const { entries, nextSeq } = this.audit.query({ fromSeq, toSeq: Number.MAX_SAFE_INTEGER, limit, action: CHECKPOINT_ACTION });
    const checkpoints = entries.flatMap((e) => {
      const c = asCheckpoint(e.details);
      return c ? [{ ...c, entrySeq: e.seq }] : [];
    });
    return { checkpoints, nextSeq };
  }

  latest(): (Checkpoint & { entrySeq: number }) | null {
    const last = this.store.lastCheckpoint();
    return last ? { ...last.checkpoint, entrySeq: last.entrySeq } : null;
  }

  /** The public keys published at the well-known route. */
  keys(): PublishedKey[] {
    return this.keyring.published();
  }
}
