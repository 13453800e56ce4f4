// The inputs and results of registry mutations, as the pure plans take and return them.
import type { AliasPolicy } from './policy.js';
import type { Approval, ComponentPin, FileEntry, ManifestRecord, Version, VersionRecord } from './types.js';

export interface NewVersion {
  name: string;
  files: FileEntry[];
  digest: string;
  size: number;
  record: VersionRecord;
  /** A stack's components, resolved and frozen by the registry. */
  components?: Record<string, ComponentPin>;
  /** The number the caller means to create (an OCI push to `v<N>`): refused if another registration took it. */
  number?: number;
}

/** What the registry checks of an approval inside its commit (self-approval, a second decision); throws to refuse. */
export type ApprovalCheck = (version: Version, approvals: readonly Approval[]) => void;

export interface AliasMove {
  name: string;
  alias: string;
  /** null deletes the alias. */
  to: number | null;
  action: 'set' | 'delete' | 'rollback';
  /** Compare-and-set: undefined skips the check, null requires that the alias does not exist. */
  expected?: number | null;
  reason?: string;
  /**
   * The alias's policy, if any (the target version then records that it held it). The plan runs
   * the one promotion gate (domain/gate.ts) with it inside the transaction, against the target
   * version as committed, so a concurrent rejection or edit cannot slip through.
   */
  policy?: AliasPolicy;
}

export interface AliasMoveResult {
  name: string;
  alias: string;
  version: number | null;
  previous: number | null;
  seq: number;
  changed: boolean;
}

export interface VersionPatch extends Partial<VersionRecord> {
  status?: 'deprecated';
}

/** An OCI manifest push: the version its layers make, the manifest itself, and the alias its tag names, if it names one. */
export interface ManifestPush {
  version: NewVersion;
  manifest: Omit<ManifestRecord, 'name' | 'version' | 'createdAt' | 'createdBy'>;
  alias?: Omit<AliasMove, 'name' | 'to'>;
}

/** A referrer pushed for the version its subject stands for (see ManifestRecord.subject). */
export type ManifestAttach = Omit<ManifestRecord, 'createdAt' | 'createdBy'> & { subject: string };

export interface ManifestPushResult {
  version: Version;
  /** False when these files already were a version. */
  created: boolean;
  manifest: ManifestRecord;
  alias?: AliasMoveResult;
}
