// The hot path's answer to "which bytes is name@ref?": a resolved reference with its response
// bytes and headers built once, kept until a change to that model invalidates it.
import type { FileEntry, Version } from './types.js';

export interface Resolution {
  name: string;
  ref: string;
  alias?: string;
  version: Version;
  seq: number;
  updatedAt: string;
  /** The JSON body of GET /v1/resolve, built once. */
  body: Buffer;
  etag: string;
  versionHeader: string;
  files: Map<string, FileEntry>;
}

const MAX_ENTRIES = 100_000;

export class ResolveCache {
  private readonly entries = new Map<string, Resolution>();
  private readonly keysByModel = new Map<string, Set<string>>();

  get(key: string): Resolution | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: Resolution): void {
    if (this.entries.size >= MAX_ENTRIES) this.clear();
    this.entries.set(key, value);
    let keys = this.keysByModel.get(value.name);
    if (!keys) this.keysByModel.set(value.name, (keys = new Set()));
    keys.add(key);
  }

  invalidateModel(name: string): void {
    const keys = this.keysByModel.get(name);
    if (!keys) return;
    for (const key of keys) this.entries.delete(key);
    this.keysByModel.delete(name);
  }

  clear(): void {
    this.entries.clear();
    this.keysByModel.clear();
  }
}

export function buildResolution(
  name: string,
  ref: string,
  version: Version,
  pointer: { alias: string; seq: number; updatedAt: string } | null,
): Resolution {
  const seq = pointer?.seq ?? version.seq;
  const updatedAt = pointer?.updatedAt ?? version.createdAt;
  const json = {
    name,
    ref,
    ...(pointer ? { alias: pointer.alias } : {}),
    version: version.version,
    digest: version.digest,
    files: version.files,
    seq,
    updatedAt,
  };
  return {
    name,
    ref,
    ...(pointer ? { alias: pointer.alias } : {}),
    version,
    seq,
    updatedAt,
    body: Buffer.from(JSON.stringify(json)),
    etag: `"${version.digest}"`,
    versionHeader: String(version.version),
    files: new Map(version.files.map((f) => [f.path, f])),
  };
}
