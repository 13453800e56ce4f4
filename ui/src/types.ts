// The API's shapes, taken from the server's own types (type-only: nothing of the server is bundled).
export type {
  Actor,
  AliasEvent,
  CardField,
  Approval,
  AuditEntry,
  FileEntry,
  MetricValue,
  Version,
  VersionEvent,
  VersionView,
} from '../../src/domain/types.js';
export type { Unmet } from '../../src/domain/policy.js';
export type { LineageGraph as LineageGraphData, LineageNode, LineageEdge } from '../../src/domain/graph.js';
export type { AliasPolicyStatus, InventoryModel, PendingVersion } from '../../src/registry/review.js';
export type { WhoAmI } from '../../src/http/routes/session.js';
export type { Role } from '../../src/domain/principal.js';
export type { AuditVerification, ChainLine, RedactedEntry } from '../../src/domain/audit-verify.js';
export type { Checkpoint } from '../../src/domain/checkpoint.js';
export type { PublishedKey } from '../../src/registry/checkpoint-keys.js';
export type { WebhookView, WebhookDelivery } from '../../src/domain/webhooks.js';
export type { SignatureRecord } from '../../src/domain/model-signing.js';
export type { FleetView, HistorySpan, InstanceView, AliasConvergence, LaggingInstance } from '../../src/domain/fleet-view.js';

import type { Checkpoint } from '../../src/domain/checkpoint.js';
/** A checkpoint as GET /v1/audit/checkpoints lists it: with the audit entry that records it. */
export type CheckpointView = Checkpoint & { entrySeq: number };
