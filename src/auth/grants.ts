// Capability URLs: a grant lets a request without an Authorization header act for one token, for
// one purpose, on one subject, until it expires. Clients that follow a URL the server handed out
// send no credentials with it (the Git LFS basic transfer's PUT, for one), so the URL itself must
// carry the right to act and nothing a log could replay beyond it.
//
// A grant is `<payload>.<mac>`: the payload names the token, the purpose, the subject and the
// expiry; the mac is HMAC-SHA256 over the payload keyed by the token's stored hash. Only the server
// knows that hash (tokens are stored hashed; the token itself never appears in a grant), every node
// sharing the control store knows the same one, and revoking the token voids its grants at once,
// because redeeming one checks the token the way any request's token is checked.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface GrantClaims {
  /** The token id the grant acts for ('admin' for the bootstrap admin token). */
  token: string;
  purpose: string;
  subject: Record<string, string>;
  /** Expiry, in Unix seconds. */
  expires: number;
}

const PAYLOAD = /^[A-Za-z0-9_-]{1,2048}$/;
const MAC = /^[A-Za-z0-9_-]{43}$/;

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(`modelgate grant\n${payload}`).digest();
}

export function signGrant(claims: GrantClaims, key: Buffer): string {
  const payload = Buffer.from(JSON.stringify({ t: claims.token, p: claims.purpose, s: claims.subject, e: claims.expires })).toString(
    'base64url',
  );
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

/** The claims a grant states, unverified (to find the key), or null if it is not shaped like one. */
export function readGrant(grant: string): { claims: GrantClaims; payload: string; mac: string } | null {
  const dot = grant.indexOf('.');
  if (dot < 0) return null;
  const payload = grant.slice(0, dot);
  const sent = grant.slice(dot + 1);
  if (!PAYLOAD.test(payload) || !MAC.test(sent)) return null;
  try {
    const raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const subject = raw.s;
    if (typeof raw.t !== 'string' || typeof raw.p !== 'string' || typeof raw.e !== 'number' || !isStringRecord(subject)) return null;
    return { claims: { token: raw.t, purpose: raw.p, subject, expires: raw.e }, payload, mac: sent };
  } catch {
    return null;
  }
}

/** Whether `sent` is the mac of `payload` under `key`, in constant time. */
export function macMatches(payload: string, sent: string, key: Buffer): boolean {
  const expected = mac(key, payload);
  const given = Buffer.from(sent, 'base64url');
  // Only the canonical spelling: the last of 43 characters carries 2 unused bits, so four
  // spellings decode to one mac, and a grant is one string, not four.
  return given.length === expected.length && given.toString('base64url') === sent && timingSafeEqual(given, expected);
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}
