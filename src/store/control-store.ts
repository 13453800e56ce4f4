// The authority for registry state. Every mutation is atomic, bumps one global sequence number
// and appends one audit entry in the same atomic step; reads are the domain's synchronous view.
import type {
  AliasMove,
  AliasMoveResult,
  ApprovalCheck,
  ManifestAttach,
  ManifestPush,
  ManifestPushResult,
  NewVersion,
  VersionPatch,
} from '../domain/mutations.js';
import type { RegistryReader } from '../domain/state.js';
import type { Checkpoint } from '../domain/checkpoint.js';
import type { LocalTable } from '../index/local-table.js';
import type { SharedTable } from '../index/shared-table.js';
import type {
  Actor,
  Approval,
  Change,
  ChangeNotice,
  ControlPlaneRestore,
  ControlPlaneStatus,
  Model,
  ManifestRecord,
  ModelInfo,
  TokenRecord,
  Version,
} from '../domain/types.js';
import type { WebhookEndpoint } from '../domain/webhooks.js';
import type { SignatureRecord } from '../domain/model-signing.js';
import type { DeliveryQueue } from './delivery-queue.js';

export type { DeliveryQueue };

export interface ControlStore extends RegistryReader {
  createModel(name: string, info: ModelInfo, actor: Actor): Promise<{ model: Model; change: Change }>;
  updateModel(name: string, info: Partial<ModelInfo>, actor: Actor): Promise<{ model: Model; change: Change }>;
  /** Registers a version, creating the model if needed; an identical file list returns the existing version. */
  registerVersion(input: NewVersion, actor: Actor): Promise<{ version: Version; created: boolean; change?: Change }>;
  /** `check` sees the version before and after the edit, inside the transaction, and may refuse it. */
  updateVersion(
    name: string,
    version: number,
    patch: VersionPatch,
    actor: Actor,
    check?: (before: Version, after: Version) => string[] | undefined,
  ): Promise<{ version: Version; change: Change }>;
  /** Retires a version for good (no alias may point at it again); a retired version is returned unchanged. */
  retireVersion(name: string, version: number, reason: string | undefined, actor: Actor): Promise<{ version: Version; change?: Change }>;
  /** Records an approval or rejection; `check` may refuse it (self-approval, a second decision). */
  recordApproval(
    name: string,
    version: number,
    decision: 'approve' | 'reject',
    comment: string | undefined,
    actor: Actor,
    check: ApprovalCheck,
  ): Promise<{ approval: Approval; version: Version; change: Change }>;
  moveAlias(move: AliasMove, actor: Actor): Promise<{ result: AliasMoveResult; change?: Change }>;
  /** Calls `listener` after every change applied on this node, its own or (shared store) another node's. */
  onChange(listener: (change: Change) => void): void;
  /**
   * Calls `listener` once for every change this node committed, as soon as the authority holds it
   * (to tell the other nodes); never where the store tells them itself (a RedisControlStore given
   * the notice channel publishes each notice inside its commit).
   */
  onCommit(listener: (notice: ChangeNotice) => void): void;
  /**
   * Catches up with the authority (up to `seq` if given); a no-op where this store is the
   * authority. `replication` from another node's notice lets a replica apply that commit directly.
   */
  sync(seq?: number, replication?: unknown): Promise<void>;
  /**
   * Deletes a version that holds no alias and never held a protected one; with `evidence` (only
   * retention passes it, under `retention.evidenceVersionDays`) a retired or once-protected one too.
   */
  deleteVersion(name: string, version: number, reason: string, actor: Actor, opts?: { evidence?: boolean }): Promise<{ change: Change }>;
  /** An OCI manifest push in one commit: the version its files make (if new), the manifest, the alias its tag names. */
  pushManifest(push: ManifestPush, actor: Actor): Promise<{ result: ManifestPushResult; change?: Change }>;
  /** A referrer recorded for the version its subject stands for, in one commit (the same one again writes nothing). */
  attachManifest(input: ManifestAttach, actor: Actor): Promise<{ result: ManifestRecord; change?: Change }>;
  /** Attaches a verified model signature to a version (the same bundle twice is one signature). */
  attachSignature(
    input: Omit<SignatureRecord, 'addedAt' | 'addedBy'>,
    actor: Actor,
  ): Promise<{ signature: SignatureRecord; created: boolean }>;
  createWebhook(
    input: Omit<WebhookEndpoint, 'createdAt' | 'createdBy' | 'seq' | 'secrets'> & { secret: string },
    actor: Actor,
  ): Promise<WebhookEndpoint>;
  /** A new signing secret; the current one(s) keep signing until `previousUntil`. */
  rotateWebhook(id: string, secret: string, previousUntil: string, actor: Actor): Promise<WebhookEndpoint>;
  deleteWebhook(id: string, actor: Actor): Promise<WebhookEndpoint>;
  /** The webhook delivery log and work queue, shared by every node on this store. */
  deliveryQueue(): DeliveryQueue;
  createToken(record: TokenRecord, actor: Actor): Promise<void>;
  revokeToken(id: string, actor: Actor): Promise<TokenRecord>;
  /**
   * Signs the chain's head with `sign` and records the checkpoint as an audit entry, unless the
   * chain has not moved since the last checkpoint (then the last one is returned with created false).
   */
  checkpoint(
    sign: (head: { seq: number; hash: string; at: string }) => Checkpoint,
    actor: Actor,
  ): Promise<{ checkpoint: Checkpoint | null; created: boolean; change?: Change }>;
  /**
   * Takes the lease `name` for `ttlMs` if no one holds it: true for exactly one caller among all
   * the nodes sharing this store until it expires (Redis SET NX PX; one LMDB write at a time on a
   * single node). It is never renewed or released early: a scheduled job names its lease after
   * its period, so one node runs each period's job. Outside the audited state.
   */
  acquireLease(name: string, ttlMs: number): Promise<boolean>;
  /** Appends an audit entry for something that changed no registry state (a refusal, a GC run). */
  appendAudit(action: string, target: string, details: Record<string, unknown>, actor: Actor): Promise<number>;
  /** A node-local table beside the replica, never replicated (upload sessions). */
  openLocalTable<V>(name: string): LocalTable<V>;
  /** A table every node sharing this store sees (upload sessions on a shared blob store). */
  sharedTable<V>(name: string): SharedTable<V>;
  getSetting(key: string): unknown;
  putSetting(key: string, value: unknown): Promise<void>;
  /** Registers this node under `address` in the control store and keeps its heartbeat going. */
  registerNode(address: string): void;
  /** Every registered node's applied sequence and head against the authority's, and whether they agree. */
  controlPlaneStatus(): Promise<ControlPlaneStatus>;
  /**
   * Rebuilds the shared authority (tables, sequence, log) from this node's replica, which the
   * caller has verified, and audits it. Refused where this store is the authority itself, and
   * where the authority already holds everything this replica has.
   */
  restoreFromReplica(actor: Actor): Promise<ControlPlaneRestore>;
  close(): Promise<void>;
}
