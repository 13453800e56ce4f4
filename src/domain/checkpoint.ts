// Signed checkpoints of the audit chain. A checkpoint says "at time T the chain's entry SEQ had
// hash H", signed with an Ed25519 key whose id it names. Whoever rewrites an entry at or before
// SEQ and recomputes the chain ends with another hash at SEQ, and cannot sign that without the key;
// so a checkpoint kept where the store's writers cannot reach exposes the rewrite.
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

export interface Checkpoint {
  /** The audit entry the checkpoint covers (the head when it was taken). */
  seq: number;
  /** That entry's hash. */
  hash: string;
  at: string;
  /** keyIdOf() of the signing key. */
  keyId: string;
  /** Ed25519 signature over checkpointMessage(), base64. */
  signature: string;
}

export type UnsignedCheckpoint = Omit<Checkpoint, 'signature'>;

/** The audit action of the entry that records a checkpoint (its details are the checkpoint). */
export const CHECKPOINT_ACTION = 'audit.checkpoint';

/** The bytes signed: a fixed tag and the canonical JSON of {at, hash, keyId, seq}. */
export function checkpointMessage(c: UnsignedCheckpoint): Buffer {
  return Buffer.from(`modelgate-checkpoint-v1\n${canonicalJson({ at: c.at, hash: c.hash, keyId: c.keyId, seq: c.seq })}`);
}

/** `ed25519:` and the first 16 hex digits of the sha256 of the raw 32-byte public key. */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const raw = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  return `ed25519:${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
}

export function signCheckpoint(unsigned: UnsignedCheckpoint, privateKey: KeyObject): Checkpoint {
  return { ...unsigned, signature: sign(null, checkpointMessage(unsigned), privateKey).toString('base64') };
}

/** True when the signature is the key's over this checkpoint (a wrong key, or any changed field, gives false). */
export function checkpointSignatureValid(c: Checkpoint, publicKey: KeyObject): boolean {
  if (typeof c.signature !== 'string') return false;
  try {
    return verify(null, checkpointMessage(c), publicKey, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}

/** A checkpoint as an audit entry's details carry it, or null when they are not one. */
export function asCheckpoint(details: Record<string, unknown>): Checkpoint | null {
  const { seq, hash, at, keyId, signature } = details;
  if (
    typeof seq !== 'number' ||
    typeof hash !== 'string' ||
    typeof at !== 'string' ||
    typeof keyId !== 'string' ||
    typeof signature !== 'string'
  )
    return null;
  return { seq, hash, at, keyId, signature };
}
