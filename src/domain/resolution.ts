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
  /** Through an alias whose version was edited since its approvals and is not yet re-approved: since when. */
  unapprovedSince?: string;
}

/** A resolution as the v1 API sends it (GET /v1/resolve) and the client reads it. */
export interface ResolutionView {
  name: string;
  ref: string;
  alias?: string;
  version: number;
  digest: string;
  files: FileEntry[];
  seq: number;
  updatedAt: string;
  /** Present while the alias serves a version on a record not yet re-approved (since this time). */
  servingUnapprovedSince?: string;
}

export function resolutionView(r: Resolution): ResolutionView {
  return {
    name: r.name,
    ref: r.ref,
    ...(r.alias !== undefined ? { alias: r.alias } : {}),
    version: r.version.version,
    digest: r.version.digest,
    files: r.version.files,
    seq: r.seq,
    updatedAt: r.updatedAt,
    ...(r.unapprovedSince !== undefined ? { servingUnapprovedSince: r.unapprovedSince } : {}),
  };
}

export function buildResolution(
  name: string,
  ref: string,
  version: Version,
  pointer: { alias: string; seq: number; updatedAt: string; unapprovedSince?: string } | null,
): Resolution {
  return {
    name,
    ref,
    ...(pointer ? { alias: pointer.alias } : {}),
    version,
    seq: pointer?.seq ?? version.seq,
    updatedAt: pointer?.updatedAt ?? version.createdAt,
    files: new Map(version.files.map((f) => [f.path, f])),
    ...(pointer?.unapprovedSince !== undefined ? { unapprovedSince: pointer.unapprovedSince } : {}),
  };
}
