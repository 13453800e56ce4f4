// Shapes of the modelgate v1 API as the client sees them (see DESIGN.md, "HTTP API").

export interface FileEntry {
  /** Relative, `/`-separated path inside the model. */
  path: string;
  size: number;
  /** `sha256:<64 hex>` of the file's bytes. */
  digest: string;
}

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
