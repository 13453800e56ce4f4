import { badRequest } from '../domain/errors.js';

/** Percent-decodes a URL piece; malformed escapes are a 400, not a crash. */
export function decode(piece: string): string {
  if (!piece.includes('%')) return piece;
  try {
    return decodeURIComponent(piece);
  } catch {
    throw badRequest('URL_INVALID', `malformed percent-encoding in "${piece.slice(0, 80)}"`);
  }
}

export function parsePositiveInt(text: string, what: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw badRequest('VERSION_INVALID', `invalid ${what} "${text.slice(0, 40)}": expected a positive integer`);
  }
  return Number(text);
}

export function parseLimit(text: string, fallback: number, max: number): number {
  if (text === '') return fallback;
  if (!/^[0-9]{1,6}$/.test(text) || Number(text) < 1) throw badRequest('LIMIT_INVALID', `limit must be an integer from 1 to ${max}`);
  return Math.min(Number(text), max);
}
