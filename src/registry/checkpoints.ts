// Signed checkpoints of the audit chain, taken on demand and on a schedule. The store records each
// one as an audit entry in the same commit that reads the head it signs; a node without a signing
// key takes none. The schedule's periods are slots of wall-clock time (floor(now / interval)):
// every keyed node wakes just after each slot starts and asks the control store for that slot's
// lease, and only the node that gets it signs, so one checkpoint is taken per period across the
// nodes (none when the chain has not moved).
import { conflict } from '../domain/errors.js';
import { logger } from '../log.js';
import { CHECKPOINT_ACTION, asCheckpoint, signCheckpoint, type Checkpoint } from '../domain/checkpoint.js';
import type { Actor } from '../domain/types.js';
import type { ControlStore } from '../store/control-store.js';
import type { AuditLog } from './audit-log.js';
import type { CheckpointKeyring, PublishedKey } from './checkpoint-keys.js';

/** The actor of scheduled checkpoints in the audit log. */
export const SCHEDULE_ACTOR: Actor = { id: 'system', name: 'checkpoint-schedule' };

/** How far past the start of a period the schedule wakes. */
const SLOT_LAG_MS = 50;

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

  /** Signs the current head; nothing new is taken when the chain has not moved since the last checkpoint. */
  async take(actor: Actor): Promise<{ checkpoint: Checkpoint | null; created: boolean }> {
    const key = this.keyring.signingKey;
    const keyId = this.keyring.signingKeyId;
    if (!key || !keyId) {
      throw conflict(
        'NO_CHECKPOINT_KEY',
        'this node has no checkpoint signing key (checkpoints.keyFile); take checkpoints on a node configured with one',
      );
    }
    const { checkpoint, created } = await this.store.checkpoint((head) => signCheckpoint({ ...head, keyId }, key), actor);
    return { checkpoint, created };
  }

  /**
   * The scheduled checkpoint of the period `now` falls in, if this node wins the period's lease:
   * `leased` false means another node has it (or had it: a lease is never handed on, so a holder
   * that fails, or gets it past the middle of the period, leaves the period without a checkpoint
   * and the next period takes one).
   */
  async takeScheduled(intervalMs: number, now = Date.now()): Promise<{ leased: boolean; checkpoint: Checkpoint | null; created: boolean }> {
    const period = Math.floor(now / intervalMs);
    // Twice the interval, so a node whose clock runs up to one interval behind still finds it taken.
    if (!(await this.store.acquireLease(`checkpoint:${intervalMs}:${period}`, 2 * intervalMs))) {
      return { leased: false, checkpoint: null, created: false };
    }
    // A holder that got here late (a stalled process, a slow control store) signs nothing: past the
    // middle of its period its checkpoint could be stamped in the next one, beside that period's.
    if (Date.now() >= period * intervalMs + intervalMs / 2) {
      logger.warn({ period, intervalMs }, 'scheduled audit checkpoint skipped: its period was half over; the next period takes one');
      return { leased: true, checkpoint: null, created: false };
    }
    return { leased: true, ...(await this.take(SCHEDULE_ACTOR)) };
  }

  /**
   * Runs `takeScheduled` just after the start of every period while this node can sign; returns a
   * function that stops it (null when there is no schedule: interval 0 or no key).
   */
  schedule(intervalMs: number): (() => void) | null {
    if (intervalMs <= 0 || !this.canSign()) return null;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const arm = () => {
      if (stopped) return;
      // Past the boundary by a little, so a clock slightly behind another node's still lands in the new period.
      timer = setTimeout(run, intervalMs - (Date.now() % intervalMs) + SLOT_LAG_MS);
      timer.unref();
    };
    const run = () => {
      this.takeScheduled(intervalMs).then(
        ({ checkpoint, created }) => {
          if (created) logger.info({ seq: checkpoint?.seq, keyId: checkpoint?.keyId }, 'audit checkpoint signed');
          arm();
        },
        (err: unknown) => {
          logger.warn({ err: (err as Error).message }, 'scheduled audit checkpoint failed; the next period takes one');
          arm();
        },
      );
    };
    arm();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
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
