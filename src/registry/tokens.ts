// The registry's door for API tokens: records are created and revoked here (each change audited
// by the store in the same commit) and read by whoever must check one.
import type { Actor, TokenRecord } from '../domain/types.js';
import type { ControlStore } from '../store/control-store.js';

const ADMIN_HASH_SETTING = 'admin-token-sha256';

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

  /** The sha256 (hex) of the bootstrap admin token the first start created, if one did. */
  adminHash(): string | undefined {
    const stored = this.store.getSetting(ADMIN_HASH_SETTING);
    return typeof stored === 'string' ? stored : undefined;
  }

  storeAdminHash(hex: string): Promise<void> {
    return this.store.putSetting(ADMIN_HASH_SETTING, hex);
  }
}
