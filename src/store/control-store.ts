// The authority for registry state. Every mutation is atomic, bumps one global sequence number
// and appends one audit entry in the same atomic step. Reads here are synchronous because the
// embedded implementation is LMDB, whose reads are memory-mapped; the hot path reads nothing else.
import type { Actor, AliasEvent, AliasPointer, AuditEntry, Change, FileEntry, Model, Page, Version } from '../registry/types.js';

export interface NewVersion {
  name: string;
  files: FileEntry[];
  digest: string;
  size: number;
  metadata: Record<string, unknown>;
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
}

export interface AliasMoveResult {
  name: string;
  alias: string;
  version: number | null;
  previous: number | null;
  seq: number;
  changed: boolean;
}

export interface ListModelsQuery {
  prefix?: string;
  cursor?: string;
  limit: number;
}

export interface RegistryReader {
  currentSeq(): number;
  getModel(name: string): Model | undefined;
  getVersion(name: string, version: number): Version | undefined;
  getVersionByDigest(name: string, digest: string): Version | undefined;
  getAlias(name: string, alias: string): AliasPointer | undefined;
  listAliases(name: string): AliasPointer[];
  listModels(query: ListModelsQuery): Page<Model>;
  listVersions(name: string, cursor: number | undefined, limit: number): Page<Version>;
  aliasHistory(name: string, alias: string): AliasEvent[];
  auditEntries(fromSeq: number, limit: number): AuditEntry[];
}

export interface ControlStore extends RegistryReader {
  /** Registers a version, creating the model if needed; an identical file list returns the existing version. */
  registerVersion(input: NewVersion, actor: Actor): Promise<{ version: Version; created: boolean; change?: Change }>;
  updateVersionMetadata(name: string, version: number, metadata: Record<string, unknown>, actor: Actor): Promise<{ version: Version; change: Change }>;
  moveAlias(move: AliasMove, actor: Actor): Promise<{ result: AliasMoveResult; change?: Change }>;
  /** Appends an audit entry for something that changed no registry state (a denied attempt, a blob upload). */
  appendAudit(action: string, target: string, details: Record<string, unknown>, actor: Actor): Promise<number>;
  getSetting(key: string): unknown;
  putSetting(key: string, value: unknown): Promise<void>;
  close(): Promise<void>;
}
