import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Prefix that makes a modelgate secret recognisable (in logs, secret scanners). */
export const TOKEN_PREFIX = 'mgt_';

/** A new token: `mgt_<id>_<secret>`; the id finds the record, the whole string is what is hashed. */
export function generateToken(): { id: string; token: string } {
  const id = randomBytes(6).toString('hex');
  return { id, token: `${TOKEN_PREFIX}${id}_${randomBytes(32).toString('base64url')}` };
}

/** The token id inside a presented token, if it has the modelgate shape. */
export function tokenId(token: string): string | null {
  const m = /^mgt_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/.exec(token);
  return m ? m[1]! : null;
}

/** Tokens are stored as this hash only. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Constant-time comparison of a presented token's hash against a stored one. */
export function hashesMatch(presentedHash: Buffer, storedHash: Buffer): boolean {
  return presentedHash.length === storedHash.length && timingSafeEqual(presentedHash, storedHash);
}
