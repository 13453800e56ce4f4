// Who is calling, and may they. Tokens are looked up by the id inside them and checked against
// the stored hash in constant time when first presented; the record is read on every request, so a
// revocation or expiry takes effect at once.
import { DomainError, forbidden } from '../domain/errors.js';
import type { TokenRegistry } from '../registry/tokens.js';
import type { Actor, TokenRecord } from '../domain/types.js';
import { scopeMatches } from './scope.js';
import { generateToken, hashesMatch, hashToken, tokenId } from './tokens.js';
import { macMatches, readGrant, signGrant } from './grants.js';
import { AUDIT_READERS, ROLE_RANK, type Principal, type Role } from '../domain/principal.js';

const ADMIN: Principal = { id: 'admin', name: 'admin', role: 'admin', scope: '*' };
const MAX_VERIFIED = 4096;

/** A refused credential that still names a known token (expired, revoked), so the refusal can be audited. */
export class AuthError extends DomainError {
  constructor(
    message: string,
    readonly actor?: Actor,
  ) {
    super('unauthenticated', 'UNAUTHORIZED', message);
  }
}

interface Presented {
  /** The record id inside a modelgate-shaped token, else null. */
  id: string | null;
  hash: Buffer;
}

/** A presented token that matched: the stored hash (hex) it matched, or null for the admin's. */
interface Verified extends Presented {
  matched: string | null;
}

/** The principal of a token record that matched, or a 401 naming it when it was revoked or has expired. */
function principalOf(record: TokenRecord): Principal {
  const actor = { id: record.id, name: record.name };
  if (record.revokedAt) throw new AuthError(`token ${record.id} was revoked`, actor);
  if (record.expiresAt && Date.parse(record.expiresAt) <= Date.now())
    throw new AuthError(`token ${record.id} expired at ${record.expiresAt}`, actor);
  return { ...actor, role: record.role, scope: record.scope };
}

/** The token of a "Bearer <token>" header, hashed; a 401 for any other shape. */
function presentedBy(header: string): Presented {
  if (header.length <= 7 || header.slice(0, 7).toLowerCase() !== 'bearer ') {
    throw new AuthError(header ? 'the Authorization header must be "Bearer <token>"' : 'missing Authorization: Bearer <token>');
  }
  const token = withoutHubPrefix(header.slice(7).trim());
  return { id: tokenId(token), hash: hashToken(token) };
}

/**
 * @huggingface/hub refuses to send a token that does not start with `hf_`, so a Hub client may
 * send `hf_` + its modelgate token; the prefix is dropped before the token is looked up.
 */
function withoutHubPrefix(token: string): string {
  return token.startsWith('hf_mgt_') ? token.slice(3) : token;
}

export class Authenticator {
  private constructor(
    private readonly tokens: TokenRegistry,
    private readonly adminHash: Buffer,
  ) {}

  /** Returns the authenticator and, on a first start without a configured token, the new token to print once. */
  static async bootstrap(tokens: TokenRegistry, configured: string | undefined): Promise<{ auth: Authenticator; created?: string }> {
    if (configured) return { auth: new Authenticator(tokens, hashToken(configured)) };
    const stored = tokens.adminHash();
    if (stored !== undefined) return { auth: new Authenticator(tokens, Buffer.from(stored, 'hex')) };
    const { token } = generateToken();
    const hash = hashToken(token);
    await tokens.storeAdminHash(hash.toString('hex'));
    // Nodes sharing a store may bootstrap at once: the first stored hash wins everywhere.
    const winner = tokens.adminHash();
    if (winner !== undefined && winner !== hash.toString('hex')) return { auth: new Authenticator(tokens, Buffer.from(winner, 'hex')) };
    return { auth: new Authenticator(tokens, hash), created: token };
  }

  /**
   * What each Authorization header that recently authenticated presented (token id and sha256),
   * so a caller polling with the same header is not hashed again on every request. Only headers
   * whose token matched are kept, so a stream of wrong tokens cannot fill it; the token record is
   * still read and checked (revocation, expiry) on every request.
   */
  private readonly verified = new Map<string, Verified>();

  /** The caller behind an Authorization header, or a 401. */
  authenticate(header: string): Principal {
    // Looked up by the map only, never compared with a header held here: a plain string compare
    // stops at the first differing character, which would time how much of a valid token a guess
    // shares (the map compares text only once its hash matched). So no one-entry memo here, unlike
    // ResolveCache, whose keys are paths.
    const known = this.verified.get(header);
    if (known) {
      // It matched before: the stored hash it matched is compared as the same text, with no
      // constant-time compare of the hash again (nothing in either side comes from this request).
      const record = known.id ? this.tokens.get(known.id) : undefined;
      if (known.matched === null && !record) return ADMIN;
      if (record && record.hash === known.matched) return principalOf(record);
    }
    const presented = known ?? presentedBy(header);
    const record = presented.id ? this.tokens.get(presented.id) : undefined;
    if (record && hashesMatch(presented.hash, Buffer.from(record.hash, 'hex'))) {
      this.remember(header, { ...presented, matched: record.hash });
      return principalOf(record);
    }
    if (hashesMatch(presented.hash, this.adminHash)) {
      this.remember(header, { ...presented, matched: null });
      return ADMIN;
    }
    throw new AuthError('the bearer token is not valid');
  }

  /**
   * A capability for `purpose` on `subject`, acting for the principal for `ttlSeconds` (see
   * auth/grants.ts). The principal must be one this authenticator produced.
   */
  grant(principal: Principal, purpose: string, subject: Record<string, string>, ttlSeconds: number): string {
    const key = this.keyOf(principal.id);
    if (!key) throw new AuthError(`token ${principal.id} is not known`);
    return signGrant({ token: principal.id, purpose, subject, expires: Math.floor(Date.now() / 1000) + ttlSeconds }, key);
  }

  /**
   * The principal and subject of a grant for `purpose`, or a 401: a forged, altered or expired grant,
   * or one whose token has since been revoked or has expired, is refused like a bad token.
   */
  redeem(grant: string, purpose: string): { principal: Principal; subject: Record<string, string> } {
    const read = readGrant(grant);
    const key = read && this.keyOf(read.claims.token);
    if (!read || !key || !macMatches(read.payload, read.mac, key) || read.claims.purpose !== purpose) {
      throw new AuthError('the upload URL is not valid');
    }
    if (read.claims.expires * 1000 <= Date.now()) throw new AuthError('the upload URL has expired; ask for a new one');
    if (read.claims.token === ADMIN.id) return { principal: ADMIN, subject: read.claims.subject };
    return { principal: principalOf(this.tokens.get(read.claims.token)!), subject: read.claims.subject };
  }

  /** The key a token's grants are signed with: its stored hash (the admin's for the admin). */
  private keyOf(id: string): Buffer | null {
    if (id === ADMIN.id) return this.adminHash;
    const record = this.tokens.get(id);
    return record ? Buffer.from(record.hash, 'hex') : null;
  }

  private remember(header: string, verified: Verified): void {
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    this.verified.set(header, verified);
  }

  /** The single place where a route's required role and the token's scope are checked. */
  authorize(principal: Principal, needed: Role, model: string | null, what: string): void {
    if (ROLE_RANK[principal.role] < ROLE_RANK[needed]) {
      throw forbidden('FORBIDDEN', `${what} needs the ${needed} role; token ${principal.id} has ${principal.role}`);
    }
    if (model !== null && !scopeMatches(principal.scope, model)) {
      throw forbidden('FORBIDDEN', `token ${principal.id} is scoped to "${principal.scope}", not "${model}"`);
    }
  }

  /** Whether authorize would let the principal act on the model (for a model a request names inside its body). */
  permits(principal: Principal, needed: Role, model: string): boolean {
    return ROLE_RANK[principal.role] >= ROLE_RANK[needed] && scopeMatches(principal.scope, model);
  }

  /**
   * The audit log's readers: auditors, approvers and admins, of any scope (what they see is cut to
   * their scope by the route). Everyone else is refused.
   */
  authorizeAuditRead(principal: Principal, what: string): void {
    if (!AUDIT_READERS.includes(principal.role)) {
      throw forbidden('FORBIDDEN', `${what} needs an auditor, approver or admin token; token ${principal.id} has ${principal.role}`);
    }
  }

  /** For routes without one model (audit, token admin): the token must cover every model. */
  authorizeGlobal(principal: Principal, needed: Role, what: string): void {
    this.authorize(principal, needed, null, what);
    if (principal.scope !== '*')
      throw forbidden('FORBIDDEN', `${what} needs a token scoped to "*"; token ${principal.id} is scoped to "${principal.scope}"`);
  }
}
