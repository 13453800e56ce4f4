// The API's shapes as the console reads them (a subset of src/registry/types.ts).
export type Role = 'reader' | 'writer' | 'approver' | 'admin' | 'auditor';

export interface WhoAmI {
  id: string;
  name: string;
  role: Role;
  scope: string;
  protectedAliases: string[];
}

export interface Unmet {
  code: string;
  message: string;
}

export interface AliasPolicyStatus {
  alias: string;
  requirements: { approvals: number; separationOfDuties: boolean; requiredCardFields: string[]; metrics: string[] };
  unmet: Unmet[];
}

export interface InventoryModel {
  name: string;
  description: string;
  owner: string;
  tags: string[];
  latestVersion: number;
  updatedAt: string;
  aliases: Record<string, number>;
  latest: { version: number; status: string; policy: AliasPolicyStatus[] } | null;
}

export interface FileEntry {
  path: string;
  size: number;
  digest: string;
}

export interface MetricValue {
  value: number;
  dataset?: string;
  split?: string;
}

export interface Version {
  name: string;
  version: number;
  digest: string;
  files: FileEntry[];
  size: number;
  status: string;
  createdAt: string;
  createdBy: string;
  metadata: Record<string, unknown>;
  lineage: {
    datasets?: { name?: string; uri?: string; digest?: string }[];
    code?: { repo: string; commit: string };
    parent?: string;
    trainingRunId?: string;
  };
  metrics: Record<string, MetricValue>;
  card: Record<string, string | string[] | undefined>;
}

export interface Approval {
  seq: number;
  decision: 'approve' | 'reject';
  approver: { id: string; name: string };
  comment?: string;
  at: string;
}

export interface VersionEvent {
  seq: number;
  action: string;
  actor: { id: string; name: string };
  at: string;
  changes?: Record<string, { before: unknown; after: unknown }>;
  comment?: string;
}

export interface AliasEvent {
  seq: number;
  alias: string;
  action: string;
  from: number | null;
  to: number | null;
  actor: { id: string; name: string };
  at: string;
  reason?: string;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: { id: string; name: string };
  action: string;
  target: string;
  details: Record<string, unknown>;
  hash: string;
}

export interface PendingVersion {
  name: string;
  version: number;
  digest: string;
  createdAt: string;
  createdBy: string;
  card: Version['card'];
  metrics: Version['metrics'];
  approvals: Approval[];
  previousApproved: number | null;
  policy: AliasPolicyStatus[];
}
