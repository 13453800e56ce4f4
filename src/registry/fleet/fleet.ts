// Fleet telemetry as a use case: the tracker counts on the hot path, a timer flushes the counts in
// batches to the fleet store (shared between nodes on Redis), and the views, the history and the
// unregistered list are read back from the store. Observation only: a failure here is logged and
// counted, never turned into a failed request, and nothing enters the registry's sequence except
// the audit entries for a newly reported unregistered artifact and for an alias move that left
// stragglers (straggler-findings.ts).
import { BlockList, isIP } from 'node:net';
import {
  firstObservation,
  parseDeploymentHeader,
  parseFleetReport,
  type FleetIdentity,
  type FleetObservation,
  type FleetStats,
  type FleetVia,
  type UnregisteredArtifact,
} from '../../domain/fleet.js';
import type { Principal } from '../../domain/principal.js';
import { DomainError, unavailable } from '../../domain/errors.js';
import { logger } from '../../log.js';
import type { FleetStore } from '../../store/fleet-store.js';
import type { Registry } from '../registry.js';
import { StragglerFindings } from './straggler-findings.js';
import { FleetTracker, type FleetTarget } from './tracker.js';
import {
  fleetSummary,
  fleetView,
  observedHistory,
  type AliasState,
  type FleetSummaryView,
  type FleetView,
  type HistorySpan,
  type InstancePage,
} from '../../domain/fleet-view.js';

export interface FleetOptions {
  /** This node's name in observations. */
  node: string;
  flushIntervalMs: number;
  /** Entries counted in memory between two flushes. */
  maxPendingEntries: number;
  /** Rows the store keeps (observations; unregistered artifacts have the same cap). */
  maxRecords: number;
  /** An instance silent for this long leaves the fleet view (its history stays). */
  instanceSilenceSeconds: number;
  stragglerWindowSeconds: number;
  /** Observations and artifacts older than this are deleted. */
  retentionDays: number;
  maxReportFiles: number;
  /** Proxies whose X-Forwarded-For is believed: addresses or CIDR ranges. */
  trustedProxies: readonly string[];
  /** At most one watch summary per model (and one unregistered batch) per interval. */
  watchIntervalMs: number;
}

/**
 * Who takes watch summaries, and whether anyone wants a model's summary now: computing one reads
 * every observation of the model, so a model nobody watches is not summarized at all.
 */
export interface SummaryListener {
  send(summary: FleetSummary): void;
  wantsModel(model: string): boolean;
}

export type FleetSummary =
  | ({ type: 'fleet'; model: string; at: string } & FleetSummaryView)
  | { type: 'fleet.unregistered'; at: string; artifacts: UnregisteredArtifact[]; more: number };

const MAX_SUMMARY_ARTIFACTS = 50;
/** A summary that took t ms delays the model's next one by this many times t (at least the interval). */
const SUMMARY_COST_FACTOR = 20;
const PRUNE_INTERVAL_MS = 15 * 60 * 1000;
/** Targets kept for reuse; past this many the map starts over (a miss costs one object). */
const MAX_TARGETS = 10_000;
/** Observations per store transaction in a flush. */
const FLUSH_CHUNK = 5000;
/** Straggler checks are at most this often (each reads the fleet's model list and their aliases). */
const STRAGGLER_CHECK_MS = 1000;

export class Fleet {
  private readonly tracker: FleetTracker;
  private readonly trusted = new BlockList();
  private flushing: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private readonly listeners: SummaryListener[] = [];
  private readonly summarizedAt = new Map<string, number>();
  /** Models whose observations changed since their last summary: by this node's flushes, or seen in changeCounts(). */
  private readonly touched = new Set<string>();
  /** The store's change count per model at the last look, and when that was. */
  private seenChanges = new Map<string, number>();
  private changesReadAt = 0;
  private unregisteredBacklog: UnregisteredArtifact[] = [];
  private unregisteredMore = 0;
  private unregisteredSentAt = 0;
  private readonly downloadTargets = new Map<string, FleetTarget>();
  private readonly targets = new Map<string, FleetTarget>();
  private readonly stats = {
    storeDropped: 0,
    flushFailures: 0,
    reports: 0,
    unregisteredFound: 0,
    summaries: 0,
    stragglerFindings: 0,
    stragglerCheckFailures: 0,
  };
  private readonly stragglers: StragglerFindings;
  private stragglersCheckedAt = 0;

  constructor(
    private readonly store: FleetStore,
    private readonly registry: Registry,
    readonly options: FleetOptions,
  ) {
    this.tracker = new FleetTracker(options.maxPendingEntries);
    for (const entry of options.trustedProxies) addTrusted(this.trusted, entry);
    this.stragglers = new StragglerFindings(
      {
        store,
        aliasStates: (model) => this.aliasStates(model),
        audit: registry.audit,
      },
      options.flushIntervalMs,
    );
  }

  start(): void {
    // The straggler check follows the timer's flushes only: a fleet view flushes too, and its
    // request should not wait for a finding's audit commit.
    const flush = setInterval(
      () =>
        void this.flush().then(
          () => this.checkStragglers(),
          () => undefined,
        ),
      this.options.flushIntervalMs,
    );
    const prune = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    flush.unref();
    prune.unref();
    this.timers = [flush, prune];
    void this.prune();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.flush();
    await this.store.close();
  }

  onSummary(listener: SummaryListener): void {
    this.listeners.push(listener);
  }

  currentStats(): FleetStats {
    return { pending: this.tracker.size, dropped: this.tracker.dropped, malformed: this.tracker.malformed, ...this.stats };
  }

  /**
   * The target a resolve stands for. The tracker keys its counts by target object, so one target
   * is kept per (model, ref, version digest): a new object per request would be a new entry per request.
   */
  target(model: string, ref: string, version: number, digest: string): FleetTarget {
    const key = `${model}\t${ref}\t${digest}`;
    let target = this.targets.get(key);
    if (!target) {
      if (this.targets.size >= MAX_TARGETS) this.targets.clear();
      target = { model, ref, version, digest };
      this.targets.set(key, target);
    }
    return target;
  }

  /** Counts a resolve at `at` (ms since the epoch) by the deployment header's caller; returns what is wrong with the header if it was not usable. */
  resolvedByHeader(target: FleetTarget, header: string, at?: number): string | null {
    return this.tracker.resolveByHeader(target, header, at);
  }

  resolvedAs(target: FleetTarget, identity: FleetIdentity, via: FleetVia): void {
    this.tracker.resolveAs(target, identity, via);
  }

  /** Counts a resolve at `at` (ms since the epoch) by a caller without a usable header: the token's name and the client address. */
  resolvedFrom(target: FleetTarget, tokenName: string, peer: string, forwardedFor: string, at?: number): void {
    this.tracker.resolveFrom(target, tokenName, this.clientAddress(peer, forwardedFor), at);
  }

  /** Whether X-Forwarded-For is read at all (only from trusted proxies; none configured: never). */
  get trustsProxies(): boolean {
    return this.options.trustedProxies.length > 0;
  }

  /**
   * Counts `bytes` of a file or blob download. The version is the one named, or for a blob
   * fetched by digest the newest version listing it in a model the caller may read.
   */
  downloaded(
    where: { model: string; version: number; digest: string } | { blob: string; visible: (model: string) => boolean; model?: string },
    identity: FleetIdentity,
    via: FleetVia,
    bytes: number,
  ): void {
    try {
      const version = 'blob' in where ? this.versionListing(where.blob, where.visible, where.model) : where;
      if (!version) return;
      const key = `${version.model}\t${version.digest}`;
      let target = this.downloadTargets.get(key);
      if (!target) {
        if (this.downloadTargets.size >= MAX_TARGETS) this.downloadTargets.clear();
        target = { model: version.model, version: version.version, digest: version.digest, ref: '' };
        this.downloadTargets.set(key, target);
      }
      this.tracker.download(target, identity, via, bytes);
    } catch (err) {
      logger.warn({ err }, 'fleet: a download could not be counted');
    }
  }

  private versionListing(blob: string, visible: (model: string) => boolean, model?: string) {
    let best: { model: string; version: number; digest: string } | null = null;
    for (const ref of this.registry.blobReferences(blob)) {
      if ((model !== undefined && ref.name !== model) || !visible(ref.name)) continue;
      if (best && (best.model < ref.name || (best.model === ref.name && best.version > ref.version))) continue;
      const v = this.registry.findVersion(ref.name, ref.version);
      if (v) best = { model: v.name, version: v.version, digest: v.digest };
    }
    return best;
  }

  /**
   * Who the caller is: the deployment header if it is well formed, else the token's name and
   * the client address (the first X-Forwarded-For hop when the peer is a trusted proxy). `peer`
   * is called only then: reading the peer address is a getpeername(2) system call in uWS.
   */
  identify(
    header: string,
    tokenName: string,
    peer: () => string,
    forwardedFor: string,
  ): { identity: FleetIdentity; via: FleetVia; ignored?: string } {
    if (header !== '') {
      const parsed = parseDeploymentHeader(header);
      if (!('problem' in parsed)) return { identity: parsed, via: 'header' };
      this.tracker.malformed++;
      return { identity: this.fallback(tokenName, peer(), forwardedFor), via: 'token', ignored: parsed.problem };
    }
    return { identity: this.fallback(tokenName, peer(), forwardedFor), via: 'token' };
  }

  fallback(tokenName: string, peer: string, forwardedFor: string): FleetIdentity {
    return { deployment: tokenName.slice(0, 128), instance: this.clientAddress(peer, forwardedFor) };
  }

  private clientAddress(peer: string, forwardedFor: string): string {
    if (forwardedFor === '' || !this.isTrusted(peer)) return peer;
    const first = forwardedFor.split(',')[0]!.trim();
    return isIP(first) ? first : peer;
  }

  private isTrusted(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    return this.trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  /** Sends what was counted since the last flush to the store; one flush at a time. */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.flushNow());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async flushNow(): Promise<void> {
    const batch = this.tracker.drain(this.options.node);
    // In store transactions of FLUSH_CHUNK rows: one transaction of a whole window (up to
    // maxPendingEntries callers) holds all its dirty pages at once, and that was most of the peak
    // memory with 100,000 distinct instances (bench: fleet).
    for (let start = 0; start < batch.length; start += FLUSH_CHUNK) {
      const chunk = batch.slice(start, start + FLUSH_CHUNK);
      try {
        const { dropped } = await this.store.mergeObservations(chunk, this.options.maxRecords);
        this.stats.storeDropped += dropped;
        for (const o of chunk) this.touched.add(o.model);
      } catch (err) {
        this.stats.flushFailures++;
        const lost = batch.length - start;
        logger.warn({ err: (err as Error).message, observations: lost }, 'fleet: flush failed; these observations are lost');
        break;
      }
    }
    await this.summarize().catch((err: unknown) => logger.warn({ err }, 'fleet: summary failed'));
  }

  /** After a timer flush (at most once a second), the moves whose straggler window just passed. */
  private async checkStragglers(): Promise<void> {
    const now = Date.now();
    if (now - this.stragglersCheckedAt < STRAGGLER_CHECK_MS) return;
    this.stragglersCheckedAt = now;
    try {
      this.stats.stragglerFindings += await this.stragglers.check(this.viewOptions());
    } catch (err) {
      this.stats.stragglerCheckFailures++;
      logger.warn({ err: (err as Error).message }, 'fleet: straggler check failed; a finding it had claimed is not recorded');
    }
  }

  private async prune(): Promise<void> {
    try {
      const removed = await this.store.prune(Date.now() - this.options.retentionDays * 86_400_000);
      if (removed > 0) logger.info({ removed }, 'fleet: observations past retention removed');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'fleet: prune failed');
    }
  }

  /** The aliases of a model with the digest each points at. */
  private aliasStates(model: string): AliasState[] {
    return this.registry.listAliases(model).flatMap((a) => {
      const v = this.registry.findVersion(model, a.version);
      return v ? [{ alias: a.alias, version: a.version, digest: v.digest, updatedAt: a.updatedAt }] : [];
    });
  }

  /**
   * Reads or writes the fleet store for a request: the store being unreachable is the client's
   * 503 (retry later), not an internal error.
   */
  private async reach<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof DomainError) throw err;
      throw unavailable('FLEET_STORE_UNAVAILABLE', `the fleet telemetry store cannot be reached: ${(err as Error).message}`);
    }
  }

  /** The fleet of one model as of now, with this node's latest counts included; one page of its instances. */
  async view(model: string, page?: InstancePage): Promise<FleetView> {
    await this.flush();
    const rows = await this.reach(() => this.store.observations(model));
    return fleetView(model, rows, this.aliasStates(model), this.viewOptions(), page);
  }

  private viewOptions() {
    return {
      now: Date.now(),
      silenceMs: this.options.instanceSilenceSeconds * 1000,
      stragglerWindowMs: this.options.stragglerWindowSeconds * 1000,
    };
  }

  /**
   * The observed models `visible` accepts, each with its instances per version: at most `limit`
   * models (with live instances) named after `after`, in name order, and the cursor of the next page.
   */
  async overview(
    visible: (model: string) => boolean,
    after: string | null = null,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<{
    models: { model: string; instances: number; versions: { version: number; digest: string; instances: number }[] }[];
    nextCursor: string | null;
  }> {
    await this.flush();
    const out = [];
    const names = (await this.reach(() => this.store.models())).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const model of names) {
      if ((after !== null && model <= after) || !visible(model)) continue;
      if (out.length === limit) return { models: out, nextCursor: out[out.length - 1]!.model };
      const view = fleetView(model, await this.reach(() => this.store.observations(model)), [], this.viewOptions());
      if (view.instances.length === 0) continue;
      out.push({
        model,
        instances: view.instances.length,
        versions: view.versions.map((g) => ({ version: g.version, digest: g.digest, instances: g.instances })),
      });
    }
    return { models: out, nextCursor: null };
  }

  async history(model: string, version?: number): Promise<HistorySpan[]> {
    await this.flush();
    return observedHistory(await this.reach(() => this.store.observations(model)), version);
  }

  async unregistered(): Promise<UnregisteredArtifact[]> {
    return (await this.reach(() => this.store.unregistered())).sort((a, b) => b.lastSeen - a.lastSeen);
  }

  /**
   * Takes a runtime's report of the weights it loaded. Known digests link the instance to the
   * version they belong to (whatever the reporter's scope: views filter by the reader's); unknown
   * ones are recorded as unregistered artifacts, and the first sighting is audited. The caller
   * learns nothing about which digests matched.
   */
  async report(principal: Principal, body: unknown, authorizeModel: (model: string) => void): Promise<{ files: number }> {
    const report = parseFleetReport(body, this.options.maxReportFiles);
    if (report.model !== undefined) authorizeModel(report.model);
    this.stats.reports++;
    const now = Date.now();
    const unknown: UnregisteredArtifact[] = [];
    const known = new Set<string>();
    for (const f of report.files) {
      if (this.registry.blobReferences(f.digest).length > 0) known.add(f.digest);
      else
        unknown.push({
          digest: f.digest,
          deployment: report.deployment,
          instance: report.instance,
          paths: [f.path],
          size: f.size,
          firstSeen: now,
          lastSeen: now,
          reports: 1,
        });
    }
    const observations = this.loadedVersions(known).map(
      (v): FleetObservation => ({ ...firstObservation(v, report, 'report', now), lastReportAt: now, node: this.options.node }),
    );
    if (observations.length > 0) {
      const { dropped } = await this.reach(() => this.store.mergeObservations(observations, this.options.maxRecords));
      this.stats.storeDropped += dropped;
      for (const o of observations) this.touched.add(o.model);
    }
    if (unknown.length > 0) {
      const { dropped, created } = await this.reach(() => this.store.mergeArtifacts(unknown, this.options.maxRecords));
      this.stats.storeDropped += dropped;
      if (created.length > 0) {
        this.stats.unregisteredFound += created.length;
        await this.registry.audit.recordFinding(
          'fleet.unregistered',
          `${report.deployment}/${report.instance}`,
          {
            count: created.length,
            artifacts: created.slice(0, 100).map((a) => ({ digest: a.digest, path: a.paths[0], size: a.size })),
          },
          principal,
        );
        this.queueUnregistered(created);
      }
    }
    return { files: report.files.length };
  }

  /**
   * The versions a set of loaded digests shows: each version all of whose files were loaded; if
   * none is complete, the version with the most of them (the newest on a tie).
   */
  private loadedVersions(digests: Set<string>): { model: string; version: number; digest: string }[] {
    const hits = new Map<string, { model: string; version: number; count: number }>();
    for (const d of digests) {
      for (const ref of this.registry.blobReferences(d)) {
        const key = `${ref.name}\t${ref.version}`;
        const hit = hits.get(key);
        if (hit) hit.count++;
        else hits.set(key, { model: ref.name, version: ref.version, count: 1 });
      }
    }
    const versions = [...hits.values()].flatMap((h) => {
      const v = this.registry.findVersion(h.model, h.version);
      if (!v) return [];
      const distinct = new Set(v.files.map((f) => f.digest)).size;
      return [{ model: v.name, version: v.version, digest: v.digest, count: h.count, complete: h.count >= distinct }];
    });
    const complete = versions.filter((v) => v.complete);
    if (complete.length > 0) return complete;
    versions.sort((a, b) => b.count - a.count || b.version - a.version);
    return versions.slice(0, 1);
  }

  private queueUnregistered(created: UnregisteredArtifact[]): void {
    for (const a of created) {
      if (this.unregisteredBacklog.length < MAX_SUMMARY_ARTIFACTS) this.unregisteredBacklog.push(a);
      else this.unregisteredMore++;
    }
  }

  /** Watch summaries, at most one per model and one unregistered batch per interval. */
  private async summarize(): Promise<void> {
    if (this.listeners.length === 0) {
      this.touched.clear();
      this.unregisteredBacklog = [];
      this.unregisteredMore = 0;
      return;
    }
    const now = Date.now();
    await this.noteChangesElsewhere(now);
    for (const model of [...this.touched]) {
      if (now - (this.summarizedAt.get(model) ?? 0) < this.options.watchIntervalMs) continue;
      this.touched.delete(model);
      if (!this.listeners.some((l) => l.wantsModel(model))) continue;
      const started = performance.now();
      this.stats.summaries++;
      const summary = fleetSummary(
        await this.store.observations(model),
        this.aliasStates(model),
        this.viewOptions(),
        MAX_SUMMARY_ARTIFACTS,
      );
      this.emit({ type: 'fleet', model, at: new Date(now).toISOString(), ...summary });
      // A model with a huge fleet takes a while to summarize: keep that under 5% of the time.
      this.summarizedAt.set(model, now + Math.max(0, (performance.now() - started) * SUMMARY_COST_FACTOR - this.options.watchIntervalMs));
    }
    if (this.unregisteredBacklog.length > 0 && now - this.unregisteredSentAt >= this.options.watchIntervalMs) {
      this.unregisteredSentAt = now;
      this.emit({
        type: 'fleet.unregistered',
        at: new Date(now).toISOString(),
        artifacts: this.unregisteredBacklog,
        more: this.unregisteredMore,
      });
      this.unregisteredBacklog = [];
      this.unregisteredMore = 0;
    }
  }

  /**
   * Models whose observations other nodes wrote since the last look (through a shared store): a
   * socket watching a model on this node gets its summaries even when the model's traffic goes to
   * other nodes. Read at most once per watch interval, the rate summaries are limited to anyway.
   */
  private async noteChangesElsewhere(now: number): Promise<void> {
    if (now - this.changesReadAt < this.options.watchIntervalMs) return;
    this.changesReadAt = now;
    const counts = await this.store.changeCounts();
    for (const [model, count] of counts) if (this.seenChanges.get(model) !== count) this.touched.add(model);
    this.seenChanges = counts;
  }

  private emit(summary: FleetSummary): void {
    for (const listener of this.listeners) {
      try {
        listener.send(summary);
      } catch (err) {
        logger.warn({ err }, 'fleet: a summary listener failed');
      }
    }
  }
}

function addTrusted(list: BlockList, entry: string): void {
  const [address, bits] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0) throw new Error(`fleet.trustedProxies: "${entry}" is not an IP address or CIDR range`);
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) list.addAddress(address!, type);
  else list.addSubnet(address!, Number(bits), type);
}
