import type { FileEntry } from './version-digest.js';

export type { FileEntry };

export interface Actor {
  /** Token id, or "admin" for the bootstrap admin token. */
  id: string;
  name: string;
}

export interface Model {
  name: string;
  description: string;
  owner: string;
  tags: string[];
  createdAt: string;
  createdBy: string;
  latestVersion: number;
  seq: number;
  updatedAt: string;
}

export type VersionStatus = 'registered' | 'approved' | 'rejected' | 'deprecated';

export interface Version {
  name: string;
  version: number;
  digest: string;
  files: FileEntry[];
  size: number;
  status: VersionStatus;
  metadata: Record<string, unknown>;
  createdAt: string;
  createdBy: string;
  seq: number;
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
}

/** What a committed mutation changed; carried by the event bus to caches and watchers. */
export interface Change {
  seq: number;
  model: string;
  kind: 'model' | 'version' | 'alias';
  alias?: string;
  version?: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
