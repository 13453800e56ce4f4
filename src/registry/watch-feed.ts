// The registry's door for watchers: the state a new watcher starts from, the changes it missed,
// and the message for each change as it is applied on this node.
import type { AliasPointer } from '../domain/types.js';
import type { ControlStore } from '../store/control-store.js';
import { changeMessages, type ChangeMessage } from './change-feed.js';

const REPLAY_BATCH = 1000;

export type AliasSnapshot = Record<string, { version: number; digest: string | null; seq: number }>;

export class WatchFeed {
  constructor(private readonly store: ControlStore) {}

  /** The last committed sequence this node has applied. */
  head(): number {
    return this.store.currentSeq();
  }

  /** The change messages after `since` up to `head`, in sequence order. */
  *replay(since: number, head: number): Iterable<ChangeMessage> {
    for (let seq = since + 1; seq <= head; seq += REPLAY_BATCH) {
      for (const entry of this.store.auditEntries(seq, Math.min(REPLAY_BATCH, head - seq + 1))) {
        yield* changeMessages(entry, this.store);
      }
    }
  }

  /** The messages for the change committed at `seq` (one a step; none if watchers do not see it). */
  messagesAt(seq: number): ChangeMessage[] {
    const entry = this.store.auditEntries(seq, 1)[0];
    return entry && entry.seq === seq ? changeMessages(entry, this.store) : [];
  }

  /** The token a token change at `seq` concerns; null when its audit entry cannot say. */
  tokenChangedAt(seq: number): string | null {
    // The change does not name the token; its audit entry does (target "token:<id>").
    const entry = this.store.auditEntries(seq, 1)[0];
    return entry?.seq === seq && entry.target.startsWith('token:') ? entry.target.slice('token:'.length) : null;
  }

  /** Each alias of `model` with the version it points at. */
  aliases(model: string): AliasSnapshot {
    const pointer = (a: AliasPointer) => [
      a.alias,
      { version: a.version, digest: this.store.getVersion(model, a.version)?.digest ?? null, seq: a.seq },
    ];
    return Object.fromEntries(this.store.listAliases(model).map(pointer));
  }

  /** Every model's name. */
  modelNames(): string[] {
    const names: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = this.store.listModels({ cursor, limit: 1000 });
      names.push(...page.items.map((m) => m.name));
      if (!page.nextCursor) return names;
      cursor = page.nextCursor;
    }
  }
}
