import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Prefix that makes a modelgate secret recognisable (in logs, secret scanners). */
export const TOKEN_PREFIX = 'mgt_';

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** Tokens are stored as this hash only. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Constant-time comparison of a presented token against a stored hash. */
export function tokenMatches(presented: string, storedHash: Buffer): boolean {
  const candidate = hashToken(presented);
  return candidate.length === storedHash.length && timingSafeEqual(candidate, storedHash);
}
