// Who is calling. Until per-user tokens exist, the only credential is the bootstrap admin token,
// set by MODELGATE_ADMIN_TOKEN or created on first start and kept as a hash.
import { ApiError } from '../errors.js';
import type { ControlStore } from '../store/control-store.js';
import { generateToken, hashToken, tokenMatches } from './tokens.js';
import { ROLE_RANK, type Principal, type Role } from './principal.js';

const ADMIN: Principal = { id: 'admin', name: 'admin', role: 'admin' };
const ADMIN_HASH_SETTING = 'admin-token-sha256';

export class Authenticator {
  private constructor(private readonly adminHash: Buffer) {}

  /** Returns the authenticator and, on a first start without a configured token, the new token to print once. */
  static async bootstrap(store: ControlStore, configured: string | undefined): Promise<{ auth: Authenticator; created?: string }> {
    if (configured) return { auth: new Authenticator(hashToken(configured)) };
    const stored = store.getSetting(ADMIN_HASH_SETTING);
    if (typeof stored === 'string') return { auth: new Authenticator(Buffer.from(stored, 'hex')) };
    const token = generateToken();
    const hash = hashToken(token);
    await store.putSetting(ADMIN_HASH_SETTING, hash.toString('hex'));
    return { auth: new Authenticator(hash), created: token };
  }

  /** The caller behind an Authorization header, or a 401. */
  authenticate(header: string): Principal {
    if (header.length > 7 && header.slice(0, 7).toLowerCase() === 'bearer ') {
      const token = header.slice(7).trim();
      if (tokenMatches(token, this.adminHash)) return ADMIN;
    }
    throw new ApiError(401, 'UNAUTHORIZED', header ? 'the bearer token is not valid' : 'missing Authorization: Bearer <token>', undefined, {
      'WWW-Authenticate': 'Bearer realm="modelgate"',
    });
  }

  /** The single place where a route's required role is checked. */
  authorize(principal: Principal, needed: Role, target: string): void {
    if (ROLE_RANK[principal.role] < ROLE_RANK[needed]) {
      throw new ApiError(403, 'FORBIDDEN', `${needed} role required for ${target}`);
    }
  }
}
