// Parts of one upload session that arrive at once, appended in their order. The Hub's multipart
// transfer (@huggingface/hub sends five parts in parallel) gives each part a fixed place in the
// blob, but a session only ever grows at its end: a part therefore waits until the session ends
// exactly where it starts, then opens its chunk. Waiting costs nothing but the part's first bytes
// (the upload's backpressure pauses the connection), and keeps every commit on the fast path: the
// session's running hash continues from part to part, so the blob is never read back.
//
// A part that finds its bytes already there (a retry whose first attempt was kept) is told so
// instead of waiting. A part that waits while the session does not move at all for `idleMs` is
// refused: the bytes before it are not coming (a client sending later parts first, one at a time).
import { conflict, DomainError } from '../domain/errors.js';
import type { SessionChunk, UploadSessionStore } from './upload-sessions.js';

/** How often a waiting part looks at the session when no part on this node nudged it. */
const POLL_MS = 100;

/** Thrown to a part whose bytes the session already holds. */
export class PartAlreadyStored extends Error {
  constructor() {
    super('the session already holds this part');
  }
}

export interface PartPlace {
  /** Session offset where the part starts, and the first offset after it. */
  start: number;
  end: number;
}

export class SessionTurns {
  private readonly nudges = new Map<string, Set<() => void>>();

  constructor(private readonly idleMs = 600_000) {}

  /**
   * Opens the chunk for `part` once the session ends at its start. Rejects with PartAlreadyStored
   * if the session already reaches past the part, a 409 after `idleMs` without any movement, and
   * with the client's abort once `gone()` says the request is gone.
   */
  async openInTurn(
    uploads: UploadSessionStore,
    id: string,
    caller: { id: string; role: string },
    part: PartPlace,
    gone: () => DomainError | null,
  ): Promise<SessionChunk> {
    let seen = -1;
    let movedAt = Date.now();
    for (;;) {
      const offset = (await uploads.get(id, caller)).offset;
      if (offset >= part.end) throw new PartAlreadyStored();
      if (offset === part.start) {
        try {
          return await uploads.openChunk(id, caller, part.start);
        } catch (err) {
          // Another part still holds the session, or its bytes moved the offset meanwhile: wait on.
          if (!(err instanceof DomainError && (err.code === 'UPLOAD_BUSY' || err.code === 'UPLOAD_OFFSET_MISMATCH'))) throw err;
        }
      }
      // An offset inside this part is another attempt at it still arriving (a disk session grows
      // as bytes land): it ends kept (this one is then already stored) or dropped (then it is this one's turn).
      const gave = gone();
      if (gave) throw gave;
      if (offset !== seen) {
        seen = offset;
        movedAt = Date.now();
      } else if (Date.now() - movedAt > this.idleMs) {
        throw conflict(
          'LFS_PART_OUT_OF_ORDER',
          `this part starts at byte ${part.start}, but the upload has stood at byte ${offset} for ${Math.round(this.idleMs / 1000)} s: send the parts before it first`,
          { offset, start: part.start },
        );
      }
      await this.pause(id);
    }
  }

  /** Wakes the parts waiting on session `id` (a part of it was just kept or dropped on this node). */
  nudge(id: string): void {
    const waiting = this.nudges.get(id);
    if (!waiting) return;
    this.nudges.delete(id);
    for (const wake of waiting) wake();
  }

  private pause(id: string): Promise<void> {
    return new Promise((resolve) => {
      let waiting = this.nudges.get(id);
      if (!waiting) this.nudges.set(id, (waiting = new Set()));
      const wake = () => {
        clearTimeout(timer);
        waiting!.delete(wake);
        if (waiting!.size === 0 && this.nudges.get(id) === waiting) this.nudges.delete(id);
        resolve();
      };
      const timer = setTimeout(wake, POLL_MS);
      waiting.add(wake);
    });
  }
}
