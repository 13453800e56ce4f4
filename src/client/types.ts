// Wire types that are the server's own domain types are imported from the domain (type-only: no
// server code is loaded), so client and server cannot drift apart; the rest are derived from them.
export type {
  Actor,
  AliasEvent,
  Approval,
  AuditEntry,
  BlobMismatch,
  BlobVerifyReport,
  ControlPlaneRestore,
  ControlPlaneStatus,
  DatasetRef,
  DeploymentSpan,
  FileEntry,
  GcReport,
  Lineage,
  MetricValue,
  ModelCard,
  NodeReport,
  VersionEvent,
  VersionStatus,
} from '../domain/types.js';
export type { Role } from '../domain/principal.js';
export type { ImpactReport, ImpactedVersion, LineageEdge, LineageGraph, LineageNode } from '../domain/graph.js';
import type { Role } from '../domain/principal.js';
export type { AuditVerification } from '../domain/audit-verify.js';
import type { Checkpoint } from '../domain/checkpoint.js';
export type { Checkpoint };

/** A public key that verifies checkpoints, as the well-known route publishes it. */
export interface PublishedKey {
  keyId: string;
  algorithm: 'Ed25519';
  publicKey: string;
  status: 'active' | 'retired';
}

export interface CheckpointTaken extends Checkpoint {
  created: boolean;
  /** `SEQ:HASH`, for --expect-head. */
  head: string;
}

export interface CheckpointList {
  checkpoints: (Checkpoint & { entrySeq: number })[];
  nextSeq: number | null;
  latest: (Checkpoint & { entrySeq: number }) | null;
  keys: PublishedKey[];
}
export type { ResolutionView as Resolution } from '../domain/resolution.js';
import type {
  Approval,
  AuditEntry,
  FileEntry,
  Lineage,
  MetricValue,
  Model,
  ModelCard,
  TokenRecord,
  VersionEvent,
  VersionStatus,
  VersionView,
} from '../domain/types.js';
import type { UnregisteredArtifact as UnregisteredArtifactRecord } from '../domain/fleet.js';

// Shapes of the modelgate v1 API as the client sees them (README.md, "HTTP API (v1)").

export interface ModelVersion {
  name: string;
  version: number;
  /** sha256 of the canonical JSON of the sorted file list. */
  digest: string;
  files: FileEntry[];
  createdAt: string;
  [extra: string]: unknown;
}

/** A version as `GET /v1/models/{name}/versions/{n}` returns it. */
export type VersionDetails = VersionView;

/** A model as `GET /v1/models/{name}` returns it, with its aliases (alias → version). */
export type ModelDetails = Model & { aliases: Record<string, number> };

export type Decision = Approval['decision'];

/** A token as the API shows it: the record without the hash of its secret. */
export type TokenInfo = Omit<TokenRecord, 'hash'>;

export interface RegisteredVersion {
  version: ModelVersion;
  /** False when an identical file list was already registered and that version came back. */
  created: boolean;
}

export interface AliasChange {
  name: string;
  alias: string;
  version: number;
  previous: number | null;
  seq: number;
}

export interface StoredBlob {
  digest: string;
  size: number;
  existed?: boolean;
}

export interface SetAliasRequest {
  version: number;
  /** A number or null ("the alias must not exist yet") turns the move into a compare-and-set. */
  expectedVersion?: number | null;
  reason?: string;
}

export interface RollbackRequest {
  toVersion?: number;
  reason?: string;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
  /** Size of the whole blob, which the server's Content-Range must repeat. */
  size: number;
}

// ---- Governance: version records, approvals, aliases over time, tokens, audit, GC ----

/** The mutable parts of a version, as sent with a registration (metrics may be bare numbers). */
export interface VersionRecordInput {
  metadata?: Record<string, unknown>;
  lineage?: Lineage;
  metrics?: Record<string, number | MetricValue>;
  card?: ModelCard;
}

/** An edit of a version: any record field it names is replaced; `status: 'deprecated'` deprecates it. */
export type VersionPatchInput = VersionRecordInput & { status?: 'deprecated' };

/** An approval as recorded, with the version's status after it. */
export interface ApprovalResult extends Approval {
  status: VersionStatus;
}

export interface VersionHistory {
  name: string;
  version: number;
  events: VersionEvent[];
  approvals: Approval[];
}

/** Where an alias pointed at a moment: the last change at or before it (all null if none). */
export interface AliasAtTime {
  name: string;
  alias: string;
  at: string;
  version: number | null;
  since: string | null;
  seq: number | null;
}

/** A token just created: the only time its secret is seen. */
export interface CreatedToken extends TokenInfo {
  token: string;
}

export interface CreateTokenRequest {
  name: string;
  role: Role;
  scope?: string;
  /** At most one of ttlSeconds and expiresAt. */
  ttlSeconds?: number;
  expiresAt?: string;
}

export interface AuditQuery {
  /** Entries whose target is the model or one of its `model@…` references. */
  model?: string;
  /** Token id or name. */
  actor?: string;
  /** An exact action or a prefix (`alias` matches `alias.*`). */
  action?: string;
  fromSeq?: number;
  toSeq?: number;
  limit?: number;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Where the next page starts, or null at the end. */
  nextSeq: number | null;
}

/** One page of the audit log as JSON Lines, exactly as the server sent it. */
export interface AuditJsonlPage {
  text: string;
  nextSeq: number | null;
}

export type { FleetReport } from '../domain/fleet.js';
export type { UnregisteredArtifactRecord };
export type { AliasConvergence, FleetView, HistorySpan as FleetHistorySpan, InstanceView, LaggingInstance } from '../domain/fleet-view.js';

/** A reported artifact as the API shows it: the domain's record with its times as ISO 8601. */
export type UnregisteredArtifact = Omit<UnregisteredArtifactRecord, 'firstSeen' | 'lastSeen'> & { firstSeen: string; lastSeen: string };

/** One model in the fleet overview: its live instances per version. */
export interface FleetOverview {
  model: string;
  instances: number;
  versions: { version: number; digest: string; instances: number }[];
}

import type { WebhookView } from '../domain/webhooks.js';
export type { WebhookDelivery, WebhookView } from '../domain/webhooks.js';

export interface CreateWebhookRequest {
  url: string;
  /** Event types (`alias.set`), globs (`alias.*`) or `*`. */
  events: string[];
  scope?: string;
  description?: string;
}

/** An endpoint with its signing secret: returned once, by creation and rotation. */
export interface WebhookWithSecret extends WebhookView {
  secret: string;
}

export interface WebhookPing {
  webhook: string;
  ok: boolean;
  status: number | null;
  latencyMs: number;
  error: string | null;
}

import type { SignatureRecord } from '../domain/model-signing.js';
/** A signature as listed (the bundle itself is fetched on its own). */
export type SignatureInfo = Omit<SignatureRecord, 'bundle'>;
