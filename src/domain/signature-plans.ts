// Attaching a verified model signature to a version: an audited commit. A signature is evidence:
// it changes neither the version's record digest nor its approvals; a policy may require one.
import { requireVersion, next, sequenceWrites } from './plans.js';
import type { SignatureRecord } from './model-signing.js';
import type { RegistryReader } from './state.js';
import type { Actor } from './types.js';
import type { Plan } from './writes.js';

export function planAttachSignature(
  state: RegistryReader,
  input: Omit<SignatureRecord, 'addedAt' | 'addedBy'>,
  actor: Actor,
): Plan<{ signature: SignatureRecord; created: boolean }> {
  requireVersion(state, input.name, input.version);
  const existing = state.listSignatures(input.name, input.version).find((s) => s.id === input.id);
  if (existing) return { result: { signature: existing, created: false }, writes: [] };
  const { seq, at } = next(state);
  const signature: SignatureRecord = { ...input, addedAt: at, addedBy: actor.name };
  return {
    result: { signature, created: true },
    writes: [
      { table: 'signatures', key: [input.name, input.version, input.id], value: signature },
      ...sequenceWrites(state, seq, at, actor, 'version.sign', `${input.name}@v${input.version}`, {
        signature: input.id,
        keyId: input.keyId,
        ...(input.identity ? { identity: input.identity.subjectAlternativeName } : {}),
        rootDigest: input.rootDigest,
      }),
    ],
    change: { seq, model: input.name, kind: 'version', version: input.version },
  };
}
