// What the stored observations say, computed on demand: each instance's running version, the
// fleet grouped by version, convergence per alias (who is behind since the alias last moved), and
// the observed deployment history. Pure functions of the rows, the aliases and the clock.
import type { FleetIdentity, FleetObservation, FleetVia } from './fleet.js';

export interface InstanceView {
  deployment: string;
  instance: string;
  /** The version of its latest activity (resolve, download or report). */
  version: number;
  digest: string;
  firstSeen: string;
  lastSeen: string;
  node: string;
  via: FleetVia;
  resolved: { ref: string; version: number; digest: string; at: string } | null;
  downloaded: { version: number; digest: string; at: string; bytes: number } | null;
  reported: { version: number; digest: string; at: string } | null;
}

export interface VersionGroup {
  version: number;
  digest: string;
  instances: number;
  deployments: string[];
}

export interface LaggingInstance {
  deployment: string;
  instance: string;
  version: number;
  digest: string;
  /** When it last resolved the alias (to the old version). */
  resolvedAt: string;
  lastSeen: string;
  node: string;
}

export interface AliasConvergence {
  alias: string;
  version: number;
  digest: string;
  movedAt: string;
  /** No instance that uses the alias is still on another version. */
  converged: boolean;
  /** Instances whose last resolve of the alias gave the current version. */
  current: number;
  /** Behind, but the alias moved less than the straggler window ago. */
  pending: LaggingInstance[];
  /** Behind for longer than the straggler window. */
  stragglers: LaggingInstance[];
}

export interface FleetView {
  model: string;
  generatedAt: string;
  /** One page of the instances, by deployment then instance; `versions` and `aliases` cover them all. */
  instances: InstanceView[];
  versions: VersionGroup[];
  aliases: AliasConvergence[];
  /** The cursor of the next page of instances (`<deployment>/<instance>` of this page's last), or null. */
  nextCursor: string | null;
}

/** Which instances a view lists: those after `after` (by deployment, then instance), at most `limit`. */
export interface InstancePage {
  after: FleetIdentity | null;
  limit: number;
}

export interface AliasState {
  alias: string;
  version: number;
  digest: string;
  updatedAt: string;
}

export interface ViewOptions {
  now: number;
  /** Instances silent for longer than this are left out. */
  silenceMs: number;
  /** How long after an alias move an instance still on the old version is pending, not a straggler. */
  stragglerWindowMs: number;
}

const iso = (ms: number) => new Date(ms).toISOString();
const instanceKey = (o: Pick<FleetObservation, 'deployment' | 'instance'>) => `${o.deployment}/${o.instance}`;

export function fleetView(
  model: string,
  rows: readonly FleetObservation[],
  aliases: readonly AliasState[],
  opts: ViewOptions,
  page: InstancePage = { after: null, limit: Number.POSITIVE_INFINITY },
): FleetView {
  const byInstance = activeInstances(rows, opts);
  // Each instance by its latest row; only the page's instances get a full view.
  const all = [...byInstance.values()]
    .map((list) => ({ list, now: latest(list, (o) => o.lastSeen)! }))
    .sort((a, b) => byName(a.now, b.now));
  const start = page.after === null ? 0 : firstAfter(all, page.after);
  const listed = all.slice(start, start + page.limit);
  const last = listed[listed.length - 1];
  return {
    model,
    generatedAt: iso(opts.now),
    instances: listed.map((e) => instanceView(e.list)),
    versions: groupByVersion(all.map((e) => e.now)),
    aliases: aliases.map((a) => convergence(a, byInstance, opts)),
    nextCursor: last && start + listed.length < all.length ? `${last.now.deployment}/${last.now.instance}` : null,
  };
}

/** The index of the first entry sorting after `after` (binary search over the sorted entries). */
function firstAfter(sorted: readonly { now: FleetIdentity }[], after: FleetIdentity): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (byName(sorted[mid]!.now, after) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The rows of instances seen within the silence window, by instance. */
function activeInstances(rows: readonly FleetObservation[], opts: ViewOptions): Map<string, FleetObservation[]> {
  const byInstance = new Map<string, FleetObservation[]>();
  for (const o of rows) {
    if (o.lastSeen < opts.now - opts.silenceMs) continue;
    const key = instanceKey(o);
    const list = byInstance.get(key);
    if (list) list.push(o);
    else byInstance.set(key, [o]);
  }
  return byInstance;
}

/** The audit action of a straggler finding (registry/fleet/straggler-findings.ts); its target is `model@alias`. */
export const STRAGGLERS_ACTION = 'fleet.stragglers';

/**
 * The alias moves a straggler finding is due for: the window after the move (plus `settleMs`, for
 * every node's counts up to its end to reach the store) ended, at most `lookbackMs` ago.
 */
export function movesPastWindow(
  aliases: readonly AliasState[],
  opts: Pick<ViewOptions, 'now' | 'stragglerWindowMs'>,
  settleMs: number,
  lookbackMs: number,
): AliasState[] {
  return aliases.filter((a) => {
    const since = opts.now - (Date.parse(a.updatedAt) + opts.stragglerWindowMs + settleMs);
    return since > 0 && since <= lookbackMs;
  });
}

/** What a watch summary carries: instances per version and, per alias, the stragglers (the first `maxListed`). */
export interface FleetSummaryView {
  versions: { version: number; instances: number }[];
  stragglers: {
    alias: string;
    version: number;
    count: number;
    instances: { deployment: string; instance: string; version: number; lastSeen: string }[];
  }[];
}

/**
 * The summary without the per-instance views: on a model with 100,000 instances the full view
 * allocates a few hundred bytes per instance, and summaries are computed on a timer.
 */
export function fleetSummary(
  rows: readonly FleetObservation[],
  aliases: readonly AliasState[],
  opts: ViewOptions,
  maxListed: number,
): FleetSummaryView {
  const byInstance = activeInstances(rows, opts);
  const counts = new Map<string, { version: number; instances: number }>();
  for (const list of byInstance.values()) {
    const now = latest(list, (o) => o.lastSeen)!;
    const group = counts.get(now.digest);
    if (group) group.instances++;
    else counts.set(now.digest, { version: now.version, instances: 1 });
  }
  return {
    versions: [...counts.values()].sort((a, b) => b.instances - a.instances || b.version - a.version),
    stragglers: aliases
      .map((a) => convergence(a, byInstance, opts))
      .filter((a) => a.stragglers.length > 0)
      .map((a) => ({
        alias: a.alias,
        version: a.version,
        count: a.stragglers.length,
        instances: a.stragglers
          .slice(0, maxListed)
          .map((s) => ({ deployment: s.deployment, instance: s.instance, version: s.version, lastSeen: s.lastSeen })),
      })),
  };
}

function latest(rows: readonly FleetObservation[], at: (o: FleetObservation) => number): FleetObservation | null {
  let best: FleetObservation | null = null;
  for (const o of rows) if (at(o) > 0 && (!best || at(o) > at(best))) best = o;
  return best;
}

function instanceView(rows: FleetObservation[]): InstanceView {
  const now = latest(rows, (o) => o.lastSeen)!;
  const resolved = latest(rows, (o) => o.lastResolveAt);
  const downloaded = latest(rows, (o) => o.lastDownloadAt);
  const reported = latest(rows, (o) => o.lastReportAt);
  return {
    deployment: now.deployment,
    instance: now.instance,
    version: now.version,
    digest: now.digest,
    firstSeen: iso(Math.min(...rows.map((o) => o.firstSeen))),
    lastSeen: iso(now.lastSeen),
    node: now.node,
    via: now.via,
    resolved: resolved && { ref: resolved.ref, version: resolved.version, digest: resolved.digest, at: iso(resolved.lastResolveAt) },
    downloaded: downloaded && {
      version: downloaded.version,
      digest: downloaded.digest,
      at: iso(downloaded.lastDownloadAt),
      bytes: rows.filter((o) => o.digest === downloaded.digest).reduce((sum, o) => sum + o.bytes, 0),
    },
    reported: reported && { version: reported.version, digest: reported.digest, at: iso(reported.lastReportAt) },
  };
}

function byName(a: { deployment: string; instance: string }, b: { deployment: string; instance: string }): number {
  return a.deployment.localeCompare(b.deployment) || a.instance.localeCompare(b.instance);
}

function groupByVersion(instances: readonly Pick<FleetObservation, 'version' | 'digest' | 'deployment'>[]): VersionGroup[] {
  const groups = new Map<string, VersionGroup>();
  for (const i of instances) {
    let g = groups.get(i.digest);
    if (!g) groups.set(i.digest, (g = { version: i.version, digest: i.digest, instances: 0, deployments: [] }));
    g.instances++;
    if (!g.deployments.includes(i.deployment)) g.deployments.push(i.deployment);
  }
  return [...groups.values()].sort((a, b) => b.instances - a.instances || b.version - a.version);
}

function convergence(alias: AliasState, byInstance: Map<string, FleetObservation[]>, opts: ViewOptions): AliasConvergence {
  const movedAt = Date.parse(alias.updatedAt);
  const pending: LaggingInstance[] = [];
  const stragglers: LaggingInstance[] = [];
  let current = 0;
  for (const rows of byInstance.values()) {
    const last = latest(
      rows.filter((o) => o.ref === alias.alias),
      (o) => o.lastResolveAt,
    );
    if (!last) continue;
    if (last.digest === alias.digest) {
      current++;
      continue;
    }
    const lagging: LaggingInstance = {
      deployment: last.deployment,
      instance: last.instance,
      version: last.version,
      digest: last.digest,
      resolvedAt: iso(last.lastResolveAt),
      lastSeen: iso(Math.max(...rows.map((o) => o.lastSeen))),
      node: last.node,
    };
    (opts.now - movedAt > opts.stragglerWindowMs ? stragglers : pending).push(lagging);
  }
  pending.sort(byName);
  stragglers.sort(byName);
  return {
    alias: alias.alias,
    version: alias.version,
    digest: alias.digest,
    movedAt: alias.updatedAt,
    converged: pending.length === 0 && stragglers.length === 0,
    current,
    pending,
    stragglers,
  };
}

export interface HistorySpan {
  version: number;
  digest: string;
  deployment: string;
  instance: string;
  from: string;
  until: string;
  resolves: number;
  downloads: number;
  bytes: number;
  via: FleetVia;
  node: string;
}

/** Which instances ran each version, from first to last seen; oldest version first, then by start. */
export function observedHistory(rows: readonly FleetObservation[], version?: number): HistorySpan[] {
  return rows
    .filter((o) => version === undefined || o.version === version)
    .sort((a, b) => a.version - b.version || a.firstSeen - b.firstSeen || byName(a, b))
    .map((o) => ({
      version: o.version,
      digest: o.digest,
      deployment: o.deployment,
      instance: o.instance,
      from: iso(o.firstSeen),
      until: iso(o.lastSeen),
      resolves: o.resolves,
      downloads: o.downloads,
      bytes: o.bytes,
      via: o.via,
      node: o.node,
    }));
}
