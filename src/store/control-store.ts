// The authority for registry state. Every mutation is atomic, bumps one global sequence number
// and appends one audit entry in the same atomic step. Reads here are synchronous because the
// embedded implementation is LMDB, whose reads are memory-mapped; the hot path reads nothing else.
import type { Unmet } from '../domain/policy.js';
import type {
  Actor,
  AliasEvent,
  AliasPointer,
  Approval,
  AuditEntry,
  Change,
  ChangeNotice,
  FileEntry,
  ManifestRecord,
  Model,
  ModelInfo,
  Page,
  TokenRecord,
  Version,
  VersionEvent,
  VersionRecord,
} from '../domain/types.js';

export interface NewVersion {
  name: string;
  files: FileEntry[];
  digest: string;
  size: number;
  record: VersionRecord;
  /** The number the caller means to create (an OCI push to `v<N>`): refused if another registration took it. */
  number?: number;
}

export interface AliasMove {
  name: string;
  alias: string;
  /** null deletes the alias. */
  to: number | null;
  action: 'set' | 'delete' | 'rollback';
  /** Compare-and-set: undefined skips the check, null requires that the alias does not exist. */
  expected?: number | null;
  reason?: string;
  /** The alias is under a policy: the target version records that it held it. */
  protected: boolean;
  /**
   * Promotion gates, evaluated inside the transaction against the target version as committed,
   * so a concurrent rejection cannot slip through. Unmet requirements refuse the move.
   */
  gate?: (version: Version, approvals: readonly Approval[], history: readonly AliasEvent[]) => Unmet[];
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

export interface ListModelsQuery {
  prefix?: string;
  cursor?: string;
  limit: number;
  /** Keeps only models for which this returns true (scope, tag, owner, alias filters). */
  filter?: (model: Model) => boolean;
}

export interface RegistryReader {
  currentSeq(): number;
  getModel(name: string): Model | undefined;
  getVersion(name: string, version: number): Version | undefined;
  getVersionByDigest(name: string, digest: string): Version | undefined;
  /** The version whose digest starts with sha256:<hexPrefix> (Hugging Face commit ids are 40 of its hex digits). */
  getVersionByDigestPrefix(name: string, hexPrefix: string): Version | undefined;
  getManifest(name: string, digest: string): ManifestRecord | undefined;
  listManifests(name: string): ManifestRecord[];
  getAlias(name: string, alias: string): AliasPointer | undefined;
  listAliases(name: string): AliasPointer[];
  listModels(query: ListModelsQuery): Page<Model>;
  listVersions(name: string, cursor: number | undefined, limit: number): Page<Version>;
  /** Every version of every model, in (name, version) order. */
  allVersions(): Iterable<Version>;
  aliasHistory(name: string, alias: string): AliasEvent[];
  /** All alias events of a model, grouped by alias, each group in sequence order. */
  modelAliasEvents(name: string): AliasEvent[];
  listApprovals(name: string, version: number): Approval[];
  versionHistory(name: string, version: number): VersionEvent[];
  getToken(id: string): TokenRecord | undefined;
  listTokens(): TokenRecord[];
  isBlobReferenced(digest: string): boolean;
  /** Versions whose file lists include the blob. */
  blobReferences(digest: string): { name: string; version: number }[];
  auditEntries(fromSeq: number, limit: number): AuditEntry[];
  /** The last audit entry's sequence and hash (0 and the genesis hash when empty). */
  auditHead(): { seq: number; hash: string };
}

export interface ControlStore extends RegistryReader {
  createModel(name: string, info: ModelInfo, actor: Actor): Promise<{ model: Model; change: Change }>;
  updateModel(name: string, info: Partial<ModelInfo>, actor: Actor): Promise<{ model: Model; change: Change }>;
  /** Registers a version, creating the model if needed; an identical file list returns the existing version. */
  registerVersion(input: NewVersion, actor: Actor): Promise<{ version: Version; created: boolean; change?: Change }>;
  updateVersion(name: string, version: number, patch: VersionPatch, actor: Actor): Promise<{ version: Version; change: Change }>;
  /** Records an approval or rejection; `check` may refuse it (self-approval, a second decision). */
  recordApproval(
    name: string,
    version: number,
    decision: 'approve' | 'reject',
    comment: string | undefined,
    actor: Actor,
    check: (version: Version, approvals: readonly Approval[]) => void,
  ): Promise<{ approval: Approval; version: Version; change: Change }>;
  moveAlias(move: AliasMove, actor: Actor): Promise<{ result: AliasMoveResult; change?: Change }>;
  /** Calls `listener` after every change applied on this node, its own or (shared store) another node's. */
  onChange(listener: (change: Change) => void): void;
  /** Calls `listener` once for every change this node committed, as soon as the authority holds it. */
  onCommit(listener: (notice: ChangeNotice) => void): void;
  /**
   * Catches up with the authority (up to `seq` if given); a no-op where this store is the
   * authority. `replication` from another node's notice lets a replica apply that commit directly.
   */
  sync(seq?: number, replication?: string): Promise<void>;
  /** Deletes a version that holds no alias and never held a protected one. */
  deleteVersion(name: string, version: number, reason: string, actor: Actor): Promise<{ change: Change }>;
  /** Records an OCI manifest (whose bytes the caller stored as a blob) for an existing version. */
  recordManifest(record: Omit<ManifestRecord, 'createdAt' | 'createdBy'>, actor: Actor): Promise<{ manifest: ManifestRecord; change?: Change }>;
  createToken(record: TokenRecord, actor: Actor): Promise<void>;
  revokeToken(id: string, actor: Actor): Promise<TokenRecord>;
  /** Appends an audit entry for something that changed no registry state (a refusal, a GC run). */
  appendAudit(action: string, target: string, details: Record<string, unknown>, actor: Actor): Promise<number>;
  getSetting(key: string): unknown;
  putSetting(key: string, value: unknown): Promise<void>;
  close(): Promise<void>;
}
