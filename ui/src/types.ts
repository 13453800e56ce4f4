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
} from '../../src/domain/types.js';
export type { Unmet } from '../../src/domain/policy.js';
export type { LineageGraph as LineageGraphData, LineageNode, LineageEdge } from '../../src/domain/graph.js';
export type { AliasPolicyStatus, InventoryModel, PendingVersion } from '../../src/registry/review.js';
export type { WhoAmI } from '../../src/http/routes/session.js';
export type { Role } from '../../src/domain/principal.js';
