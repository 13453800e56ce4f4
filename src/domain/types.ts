import type { FileEntry } from './version-digest.js';

export type { FileEntry };

export interface Actor {
  /** Token id, or "admin" for the bootstrap admin token. */
  id: string;
  name: string;
}

export interface ModelInfo {
  description: string;
  owner: string;
  tags: string[];
}

export interface Model extends ModelInfo {
  name: string;
  createdAt: string;
  createdBy: string;
  latestVersion: number;
  seq: number;
  updatedAt: string;
}

/** `rejected` and `retired` are final; an edit of an `approved` version's record puts it back to `registered`. */
export type VersionStatus = 'registered' | 'approved' | 'rejected' | 'deprecated' | 'retired';

export interface DatasetRef {
  name?: string;
  uri?: string;
  digest?: string;
}

export interface Lineage {
  datasets?: DatasetRef[];
  code?: { repo: string; commit: string };
  /** `model@v<N>` this version was trained or fine-tuned from. */
  parent?: string;
  trainingRunId?: string;
}

export interface MetricValue {
  value: number;
  dataset?: string;
  split?: string;
}

export const CARD_FIELDS = ['intendedUse', 'outOfScopeUse', 'trainingData', 'evaluation', 'limitations', 'monitoring', 'contacts'] as const;
export type CardField = (typeof CARD_FIELDS)[number];

/** The model card. `limitations` covers known limitations and biases; `monitoring` the thresholds watched in production. */
export type ModelCard = Partial<Record<Exclude<CardField, 'contacts'>, string>> & { contacts?: string[] };

/** The parts of a version that may change after registration; every change is kept in its history. */
export interface VersionRecord {
  metadata: Record<string, unknown>;
  lineage: Lineage;
  metrics: Record<string, MetricValue>;
  card: ModelCard;
}

/** A component of a stack, frozen at registration: the version its reference named then. */
export interface ComponentPin {
  name: string;
  version: number;
  digest: string;
  /** The reference as registered (`llm/base@production`), for people; the pin is name, version and digest. */
  ref: string;
}

export interface Version extends VersionRecord {
  name: string;
  version: number;
  digest: string;
  files: FileEntry[];
  /** The size of the version's own files (a stack's components are counted in its closure, not here). */
  size: number;
  /** Present on a stack only: component name (`base`, `adapter`, …) → the version pinned. */
  components?: Record<string, ComponentPin>;
  status: VersionStatus;
  createdAt: string;
  /** Token id of the registrant, for separation of duties. */
  createdById: string;
  createdBy: string;
  /** Protected aliases this version has ever held: such a version is kept forever. */
  protectedAliases: string[];
  /** recordDigest() of the record as last written, and when the record last changed (registration or edit). */
  recordDigest?: string;
  recordChangedAt?: string;
  /**
   * The layout of the OCI manifest generated for this version, fixed at registration because a
   * manifest once served never changes (clients pin its digest): 'modelpack-v2' (CNCF model-spec
   * with each layer's org.cncf.model.file.metadata+json) for versions registered from now on;
   * 'modelpack' (model-spec without file metadata) for those registered before that; absent on
   * versions from before ModelPack. Each keeps the manifest it was first served with.
   */
  ociLayout?: 'modelpack' | 'modelpack-v2';
  seq: number;
}

/** A version as `show` and `GET …/versions/{n}` present it. */
export interface VersionView extends Version {
  /** recordDigest() of the current record: what an approval approves. */
  recordDigest: string;
  /** Set while the version serves on protected aliases with a record no approver has approved since `since`. */
  servingUnapproved: { since: string; aliases: string[] } | null;
  /** A stack's components (transitively) retired or rejected since it pinned them: `component` is the path (`index/embedding`). */
  flaggedComponents?: { component: string; name: string; version: number; status: VersionStatus }[];
}

export interface VersionEvent {
  seq: number;
  name: string;
  version: number;
  /** `component` records that a component of this stack was retired or rejected. */
  action: 'register' | 'update' | 'approve' | 'reject' | 'retire' | 'component';
  actor: Actor;
  at: string;
  /** Field → value before and after (for updates). */
  changes?: Record<string, { before: unknown; after: unknown }>;
  comment?: string;
}

export interface Approval {
  seq: number;
  name: string;
  version: number;
  decision: 'approve' | 'reject';
  approver: Actor;
  comment?: string;
  at: string;
  /** The record digest the decision was taken on: gates count only decisions on the current record. */
  recordDigest?: string;
}

export interface AliasPointer {
  name: string;
  alias: string;
  version: number;
  seq: number;
  updatedAt: string;
  updatedBy: string;
}

export type AliasAction = 'set' | 'delete' | 'rollback';

export interface AliasEvent {
  seq: number;
  name: string;
  alias: string;
  action: AliasAction;
  from: number | null;
  to: number | null;
  actor: Actor;
  at: string;
  reason?: string;
  /** The record digest the version had when the alias was pointed at it. */
  recordDigest?: string;
}

/** One stretch of time during which an alias pointed at one version. */
export interface DeploymentSpan {
  alias: string;
  version: number;
  from: string;
  until: string | null;
  seconds: number;
  fromSeq: number;
  untilSeq: number | null;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: Actor;
  action: string;
  target: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
  /** `steps` when the hash covers each step's digest (a compound entry, audit-chain.ts); absent for a whole-entry hash. */
  seal?: 'steps';
}

/** What a committed mutation changed; carried by the event bus to caches and watchers. */
export interface Change {
  seq: number;
  /** Empty for changes that concern no model (tokens, audit-only entries). */
  model: string;
  kind: 'model' | 'version' | 'alias' | 'token' | 'audit' | 'webhook';
  alias?: string;
  version?: number;
}

/**
 * What a node tells the others after it committed a change. `replication` is opaque outside the
 * store that made it: that store's record of the commit as a JSON value, which another node's
 * replica can apply without a round trip to the authority (absent where there is nothing to ship,
 * or too much). Nodes before this field was an object sent it as JSON text; see
 * RedisControlStore.sync for what each reads of the other's.
 */
export interface ChangeNotice {
  change: Change;
  replication?: unknown;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface TokenRecord {
  id: string;
  name: string;
  role: 'reader' | 'writer' | 'approver' | 'admin' | 'auditor';
  /** Model-name glob the token may act on: `*`, `risk/*`, `team/model`. */
  scope: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** sha256 of the secret, hex. The secret itself is never stored. */
  hash: string;
}

/** What a garbage collection removed (or would remove, in a dry run) and what it kept. */
export interface GcReport {
  dryRun: boolean;
  /** Versions deleted by retention (or that would be, in a dry run). */
  versions: { name: string; version: number; createdAt: string }[];
  /** Blobs removed (or that would be). */
  blobs: { digest: string; size: number }[];
  bytes: number;
  /** Blobs kept, by reason. */
  kept: { young: number; pinned: number; referenced: number; changed: number };
  /** Versions past retention that are kept, each with why ("is component "base" of app/assistant@v3, which holds @production"). */
  keptVersions: { name: string; version: number; reason: string }[];
}

/** A blob whose stored bytes do not hash to its digest. */
export interface BlobMismatch {
  digest: string;
  size: number;
  /** The sha256 of the bytes actually stored. */
  actual: string;
  /** Moved out of the digest's place (with repair), so the next push uploads it again. */
  movedAside: boolean;
}

/** What `blobs verify` found: every blob re-hashed against its digest. */
export interface BlobVerifyReport {
  repair: boolean;
  checked: number;
  bytes: number;
  mismatched: BlobMismatch[];
  /** Blobs that could not be read through (the store failed while reading them). */
  unreadable: { digest: string; error: string }[];
}

/** An OCI manifest pushed by a client for a version; its bytes are kept as a blob under `digest`. */
export interface ManifestRecord {
  name: string;
  digest: string;
  mediaType: string;
  size: number;
  /** The config blob's digest: kept from GC with the manifest. */
  configDigest: string;
  version: number;
  createdAt: string;
  createdBy: string;
  /**
   * For a referrer (a manifest whose `subject` names another: a signature, an SBOM, an attestation
   * attached to a version), the subject's digest. A referrer belongs to the subject's version and is
   * never served as that version's manifest.
   */
  subject?: string;
  /** A referrer's artifact type (its `artifactType`, else its config's media type), for the referrers listing. */
  artifactType?: string;
  /** A referrer's annotations, for the referrers listing. */
  annotations?: Record<string, string>;
  /** A referrer's layer digests: kept from GC with it (a version's own manifests name its files instead). */
  blobs?: string[];
}

/** One gateway node as it last reported itself in the control store (its heartbeat). */
export interface NodeReport {
  id: string;
  /** Where the node listens (`http://host:port`), as it reported it. */
  address: string;
  /** The last sequence its replica applied, and the audit hash at that sequence. */
  appliedSeq: number;
  headHash: string;
  /** Why the node refuses writes (its history and the control plane's part), or null. */
  diverged: string | null;
  lastHeartbeat: string;
  /** Milliseconds since that heartbeat, by the clock of the node answering the status. */
  ageMs: number;
  /** Heard from within the last few heartbeat periods. */
  live: boolean;
  /** Sequences the node is behind the authority (0 when caught up; null without an authority). */
  lag: number | null;
  /** Its history is a prefix of the authority's: its head hash is the authority's at its sequence. */
  agrees: boolean;
}

/** `modelgate control-plane status`: the authority's sequence and head, and every registered node. */
export interface ControlPlaneStatus {
  backend: 'lmdb' | 'redis';
  /** The shared authority's sequence and head, or null while it cannot be reached (then `unreachable` says why). */
  authority: { seq: number; headHash: string } | null;
  unreachable?: string;
  /** The sequence up to which the log was rebuilt from a replica (0 if never restored). */
  restoredAt: number;
  nodes: NodeReport[];
  /** Every live node agrees with the authority and with each other. */
  agree: boolean;
}

/** What `control-plane restore --from-replica` did. */
export interface ControlPlaneRestore {
  /** The node whose replica was written into the control store. */
  node: string;
  restoredSeq: number;
  headHash: string;
  /** What the control store held before (null if it was empty). */
  previous: { seq: number; headHash: string | null } | null;
  /** Rows written, per table. */
  rows: Record<string, number>;
  /** The audit entry that records the restore. */
  auditSeq: number;
}
