// A reference resolved against the registry's state: the version it names now, since when, and
// that version's files by path. Renderings of it (the v1 resolve body, Hub and OCI answers) are
// built by the http layer.
import type { FileEntry, Version } from './types.js';

export interface Resolution {
  name: string;
  ref: string;
  alias?: string;
  version: Version;
  /** The sequence of the alias's last move, or of the version's registration. */
  seq: number;
  updatedAt: string;
  files: Map<string, FileEntry>;
}

export function buildResolution(
  name: string,
  ref: string,
  version: Version,
  pointer: { alias: string; seq: number; updatedAt: string } | null,
): Resolution {
  return {
    name,
    ref,
    ...(pointer ? { alias: pointer.alias } : {}),
    version,
    seq: pointer?.seq ?? version.seq,
    updatedAt: pointer?.updatedAt ?? version.createdAt,
    files: new Map(version.files.map((f) => [f.path, f])),
  };
}
