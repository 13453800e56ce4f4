// The registry's door for API tokens: records are created and revoked here (each change audited
// by the store in the same commit) and read by whoever must check one.
import type { Actor, TokenRecord } from '../domain/types.js';
import type { ControlStore } from '../store/control-store.js';

export class TokenRegistry {
  constructor(private readonly store: ControlStore) {}

  create(record: TokenRecord, actor: Actor): Promise<void> {
    return this.store.createToken(record, actor);
  }

  revoke(id: string, actor: Actor): Promise<TokenRecord> {
    return this.store.revokeToken(id, actor);
  }

  list(): TokenRecord[] {
    return this.store.listTokens();
  }

  /** The stored token with this id; undefined for the configured admin token, which is not stored. */
  get(id: string): TokenRecord | undefined {
    return this.store.getToken(id);
  }
}
