import { createHash } from 'node:crypto';
import type { AuditEntry } from './types.js';

export const GENESIS_HASH = 'sha256:' + '0'.repeat(64);

/** The hash that seals an audit entry: over the previous hash and the entry's canonical JSON. */
export function auditHash(entry: Omit<AuditEntry, 'hash'>): string {
  const body = JSON.stringify({
    seq: entry.seq,
    at: entry.at,
    actor: { id: entry.actor.id, name: entry.actor.name },
    action: entry.action,
    target: entry.target,
    details: entry.details,
    prevHash: entry.prevHash,
  });
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}
