// A reference resolved against the registry's state: the version it names now, since when, and
// that version's files by path. Renderings of it (the v1 resolve body, Hub and OCI answers) are
// built by the http layer.
import { recordDigest } from './record-digest.js';
import { componentNames, stackDigest, walkClosure } from './stack.js';
import { sortFiles } from './version-digest.js';
import type { FileEntry, Version, VersionStatus } from './types.js';

/** A stack's component as resolve returns it: the pinned version, its files, and its own components. */
export interface ComponentView {
  name: string;
  version: number;
  digest: string;
  status: VersionStatus;
  files: FileEntry[];
  components?: Record<string, ComponentView>;
}

/** A component somewhere in a stack's closure that was retired or rejected after the stack pinned it. */
export interface FlaggedComponent {
  /** Component path from the stack, `/`-separated (`index/embedding`). */
  component: string;
  name: string;
  version: number;
  status: VersionStatus;
}

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
  /** A stack's components, transitively (absent for a flat version). */
  components?: Record<string, ComponentView>;
  /** Components of the stack retired or rejected since it pinned them. */
  flagged?: FlaggedComponent[];
  /** A stack's files as a pull lays them out: its own, then `<component>/<path>` (also in `files`). */
  closure?: FileEntry[];
  /** Answered from history (`?at=`): the time asked about; `version` is then the record as it was. */
  at?: string;
}

/** A version's reviewable record and status as they were at a past time (what `show --at` gives). */
export interface RecordThen {
  status: VersionStatus;
  recordDigest: string;
  card: Version['card'];
  metrics: Version['metrics'];
  lineage: Version['lineage'];
  metadata: Version['metadata'];
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
  /** A stack's closure: every component, transitively, with version, digest and files. */
  components?: Record<string, ComponentView>;
  flaggedComponents?: FlaggedComponent[];
  /** With `?at=`: the time asked about, and the version's record and status as they were then. */
  at?: string;
  record?: RecordThen;
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
    ...(r.components ? { components: r.components } : {}),
    ...(r.flagged && r.flagged.length > 0 ? { flaggedComponents: r.flagged } : {}),
    ...(r.at !== undefined ? { at: r.at, record: recordThen(r.version) } : {}),
  };
}

function recordThen(v: Version): RecordThen {
  return {
    status: v.status,
    recordDigest: v.recordDigest ?? recordDigest(v),
    card: v.card,
    metrics: v.metrics,
    lineage: v.lineage,
    metadata: v.metadata,
  };
}

/** A stack's components as nested views, read once when the resolution is built. */
export function componentViews(
  version: Pick<Version, 'components'>,
  lookup: (name: string, version: number) => Version | undefined,
): Record<string, ComponentView> | undefined {
  const names = componentNames(version);
  if (names.length === 0) return undefined;
  const out: Record<string, ComponentView> = {};
  for (const slot of names) {
    const pin = version.components![slot]!;
    const found = lookup(pin.name, pin.version);
    if (!found || found.digest !== pin.digest) continue;
    const nested = componentViews(found, lookup);
    out[slot] = {
      name: found.name,
      version: found.version,
      digest: found.digest,
      status: found.status,
      files: found.files,
      ...(nested ? { components: nested } : {}),
    };
  }
  return out;
}

/** Components in the closure that are retired or rejected: a protected alias may not move onto such a stack. */
export function flaggedComponents(
  version: Pick<Version, 'components'>,
  lookup: (name: string, version: number) => Version | undefined,
): FlaggedComponent[] {
  return walkClosure(version, lookup)
    .filter((e) => e.version.status === 'retired' || e.version.status === 'rejected')
    .map((e) => ({ component: e.path.join('/'), name: e.version.name, version: e.version.version, status: e.version.status }));
}

export function buildResolution(
  name: string,
  ref: string,
  version: Version,
  pointer: { alias: string; seq: number; updatedAt: string; unapprovedSince?: string } | null,
  lookup?: (name: string, version: number) => Version | undefined,
): Resolution {
  const components = lookup ? componentViews(version, lookup) : undefined;
  const flagged = components && lookup ? flaggedComponents(version, lookup) : [];
  // A stack's component files are reachable by path under the stack (files route, Hub, OCI layers).
  const closure = components ? closureFiles(version.files, components) : undefined;
  return {
    name,
    ref,
    ...(pointer ? { alias: pointer.alias } : {}),
    version,
    seq: pointer?.seq ?? version.seq,
    updatedAt: pointer?.updatedAt ?? version.createdAt,
    files: new Map((closure ?? version.files).map((f) => [f.path, f])),
    ...(pointer?.unapprovedSince !== undefined ? { unapprovedSince: pointer.unapprovedSince } : {}),
    ...(components ? { components } : {}),
    ...(flagged.length > 0 ? { flagged } : {}),
    ...(closure ? { closure } : {}),
  };
}

/**
 * A stack's files laid out as a pull writes them: its own files at their paths, each component's
 * files under `<component>/`, nested components under `<component>/<component>/`. Registration
 * keeps component names apart from the stack's own top-level paths, so no two entries collide.
 */
export function closureFiles(files: readonly FileEntry[], components: Record<string, ComponentView> | undefined): FileEntry[] {
  const out = [...files];
  for (const [slot, view] of Object.entries(components ?? {})) {
    for (const f of closureFiles(view.files, view.components)) out.push({ ...f, path: `${slot}/${f.path}` });
  }
  return out;
}

/**
 * Checks a resolved closure against its digests, bottom up: each component's files and pins hash
 * to its digest, and the root's to the digest it was resolved as. Returns the first mismatch.
 */
export function closureMismatch(
  root: { digest: string; files: FileEntry[]; components?: Record<string, ComponentView> },
  label = 'the stack',
): string | null {
  for (const [slot, view] of Object.entries(root.components ?? {})) {
    const inner = closureMismatch(view, `component ${slot} (${view.name}@v${view.version})`);
    if (inner) return inner;
  }
  const pins = root.components
    ? Object.fromEntries(Object.entries(root.components).map(([c, v]) => [c, { name: v.name, digest: v.digest }]))
    : undefined;
  const computed = stackDigest(sortFiles(root.files), pins);
  return computed === root.digest ? null : `${label}: its files${pins ? ' and components' : ''} hash to ${computed}, not ${root.digest}`;
}
