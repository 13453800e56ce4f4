// Wire types that are the server's own domain types are imported from there (type-only: no server
// code is loaded), so client and server cannot drift apart.
export type { Actor, AliasEvent, AuditEntry, DatasetRef, DeploymentSpan, FileEntry, Lineage, MetricValue, ModelCard, VersionStatus } from '../domain/types.js';
export type { Role } from '../domain/principal.js';
import type { Actor, AuditEntry, FileEntry, Lineage, MetricValue, ModelCard, VersionStatus } from '../domain/types.js';
import type { Role } from '../domain/principal.js';

// Shapes of the modelgate v1 API as the client sees them (see DESIGN.md, "HTTP API").

export interface ModelVersion {
  name: string;
  version: number;
  /** sha256 of the canonical JSON of the sorted file list. */
  digest: string;
  files: FileEntry[];
  createdAt: string;
  [extra: string]: unknown;
}

export interface RegisteredVersion {
  version: ModelVersion;
  /** False when an identical file list was already registered and that version came back. */
  created: boolean;
}

export interface Resolution {
  name: string;
  ref: string;
  alias?: string;
  version: number;
  digest: string;
  files: FileEntry[];
  seq: number;
  updatedAt: string;
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

/** A version as `GET /v1/models/{name}/versions/{n}` returns it. */
export interface VersionDetails extends ModelVersion {
  size: number;
  status: VersionStatus;
  createdById: string;
  createdBy: string;
  /** Protected aliases this version has ever held (such a version is kept forever). */
  protectedAliases: string[];
  seq: number;
  metadata: Record<string, unknown>;
  lineage: Lineage;
  metrics: Record<string, MetricValue>;
  card: ModelCard;
}

export interface ModelDetails {
  name: string;
  description: string;
  owner: string;
  tags: string[];
  createdAt: string;
  createdBy: string;
  latestVersion: number;
  seq: number;
  updatedAt: string;
  /** alias → version */
  aliases: Record<string, number>;
}

export type Decision = 'approve' | 'reject';

export interface Approval {
  seq: number;
  name: string;
  version: number;
  decision: Decision;
  approver: Actor;
  comment?: string;
  at: string;
}

/** An approval as recorded, with the version's status after it. */
export interface ApprovalResult extends Approval {
  status: VersionStatus;
}

export interface VersionEvent {
  seq: number;
  name: string;
  version: number;
  action: 'register' | 'update' | 'approve' | 'reject';
  actor: Actor;
  at: string;
  changes?: Record<string, { before: unknown; after: unknown }>;
  comment?: string;
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

export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  scope: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  revokedAt: string | null;
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

export interface AuditVerification {
  ok: boolean;
  entries: number;
  headSeq: number;
  headHash: string;
  firstBad?: { seq: number; reason: string };
}

export interface GcReport {
  dryRun: boolean;
  /** Versions deleted by retention (or that would be, in a dry run). */
  versions: { name: string; version: number; createdAt: string }[];
  /** Blobs removed (or that would be). */
  blobs: { digest: string; size: number }[];
  bytes: number;
  /** Blobs kept, by reason. */
  kept: { young: number; pinned: number; referenced: number; changed: number };
}
