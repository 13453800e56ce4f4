// The registry: the one door to the control store. Every use case goes through it: what may be
// registered, where aliases may point and under which gates, who may approve, how references
// resolve, and (through its parts) tokens, the audit log and the watch feed. Storage, transport
// and authentication live elsewhere.
import { badRequest, conflict, forbidden, notFound } from '../domain/errors.js';
import type { BlobGuard } from '../blobs/blob-guard.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type {
  AliasMove,
  AliasMoveResult,
  ManifestAttach,
  ManifestPush,
  ManifestPushResult,
  NewVersion,
  VersionPatch,
} from '../domain/mutations.js';
import { AuditLog } from './audit-log.js';
import type { CheckpointKeyring } from './checkpoint-keys.js';
import { Checkpoints } from './checkpoints.js';
import { collectGarbage, type GcOptions } from './gc.js';
import { TokenRegistry } from './tokens.js';
import { WatchFeed } from './watch-feed.js';
import { WebhookRegistry } from './webhooks.js';
import { Evidence } from './evidence.js';
import { SignatureRegistry } from './signatures.js';
import type { SigningTrust } from '../lib/sigstore-bundle.js';
import type { ControlStore } from '../store/control-store.js';
import { assertAlias, assertModelName, filePathProblem, isDigest, parseRef, parseReference, type Ref } from '../domain/names.js';
import { aliasMoveUnmet, awaitsReapproval, editUnmet, gateReads, NOTHING_RECORDED } from '../domain/gate.js';
import type { AliasPolicy, Unmet } from '../domain/policy.js';
import type { Role } from '../domain/principal.js';
import { moverRole } from '../domain/promotion-path.js';
import { versionAt } from '../domain/point-in-time.js';
import { recordDigest } from '../domain/record-digest.js';
import { buildResolution, closureFiles, componentViews, flaggedComponents, type Resolution } from '../domain/resolution.js';
import { ResolveCache } from '../index/resolve-cache.js';
import type { ControlPlaneRestore, ControlPlaneStatus } from '../domain/types.js';
import type {
  Actor,
  AliasEvent,
  AliasPointer,
  Approval,
  Change,
  DeploymentSpan,
  FileEntry,
  GcReport,
  ManifestRecord,
  Model,
  ModelInfo,
  Page,
  Version,
  VersionRecord,
  VersionView,
} from '../domain/types.js';
import { sortFiles, versionDigest } from '../domain/version-digest.js';
import { DEFAULT_STACK_LIMITS, stackDigest, stacksAbove, type StackLimits } from '../domain/stack.js';
import { findByReference, freezeComponents, freezeLineage } from './stack-components.js';
import { blobSeeds, datasetSeeds, impactOf, lineageGraph, type ImpactReport, type LineageGraph } from './impact.js';
import { inventoryRow, pendingVersions, policyStatus, type AliasPolicyStatus, type InventoryModel, type PendingVersion } from './review.js';

const STAT_CONCURRENCY = 32;

export interface FileProblem {
  path: string;
  problem: string;
}

export interface RegisterOptions {
  /** The number the caller means to create (an OCI push to `v<N>`). */
  number?: number;
  /** A stack's components: name → reference (`llm/base@production`, `@v4`, `@sha256:…`), frozen at registration. */
  components?: Record<string, string>;
  /** Whether the caller may read a model (its token scope): components and the lineage parent must be readable. */
  canRead?: (model: string) => boolean;
}

export interface ModelFilter {
  prefix?: string;
  tag?: string;
  owner?: string;
  alias?: string;
  /** Text the name, description, owner or a tag contains (case-insensitive). */
  text?: string;
  /** Only models this predicate accepts (the caller's token scope). */
  visible: (name: string) => boolean;
}

export class Registry {
  private readonly cache = new ResolveCache<Resolution>();
  readonly tokens: TokenRegistry;
  readonly audit: AuditLog;
  readonly feed: WatchFeed;
  readonly checkpoints: Checkpoints;
  readonly webhooks: WebhookRegistry;
  readonly evidence: Evidence;
  readonly signatures: SignatureRegistry;

  constructor(
    private readonly store: ControlStore,
    private readonly blobs: BlobStore,
    private readonly guard: BlobGuard,
    private readonly policies: Record<string, AliasPolicy>,
    keyring: CheckpointKeyring,
    private readonly stackLimits: StackLimits & { gcKeepsLineageParents?: boolean } = DEFAULT_STACK_LIMITS,
    options: { allowPrivateWebhooks?: boolean; signing?: SigningTrust } = {},
  ) {
    store.onChange((change) => {
      for (const model of this.modelsAffectedBy(change)) {
        this.cache.invalidateModel(model);
        for (const listener of this.modelListeners) listener(model);
      }
    });
    this.tokens = new TokenRegistry(store);
    this.audit = new AuditLog(store, (keyId) => keyring.publicKey(keyId));
    this.checkpoints = new Checkpoints(store, this.audit, keyring);
    this.feed = new WatchFeed(store);
    this.webhooks = new WebhookRegistry(store, options.allowPrivateWebhooks ?? false);
    this.evidence = new Evidence(store, policies);
    this.signatures = new SignatureRegistry(store, options.signing ?? { keys: [], identities: [] });
  }

  /** The aliases under a policy: only approvers move them, through the gates. */
  protectedAliases(): string[] {
    return Object.keys(this.policies);
  }

  /** Who may point the alias (its policy's moveRole; see domain/promotion-path.ts): every path that moves it asks this. */
  moverRole(alias: string): Role {
    return moverRole(this.policyFor(alias));
  }

  policyFor(alias: string): AliasPolicy | undefined {
    return Object.hasOwn(this.policies, alias) ? this.policies[alias] : undefined;
  }

  /** Resolves name@ref from the cache, filling it from the index on a miss. Null if unknown. */
  resolve(name: string, ref: string): Resolution | null {
    const key = `${name}@${ref}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const found = this.lookup(name, parseRef(ref), ref);
    if (found) this.cache.set(key, found);
    return found;
  }

  /**
   * Calls `listener` with every model whose resolutions a change applied on this node may have
   * changed: the model itself and, for a version change, every model with a stack that includes
   * the version (a resolved closure shows its components' status). Renderings of resolutions
   * (the resolve route's response bytes) drop their entries on it.
   */
  onModelChanged(listener: (model: string) => void): void {
    this.modelListeners.push(listener);
  }

  private readonly modelListeners: ((model: string) => void)[] = [];

  private modelsAffectedBy(change: Change): Set<string> {
    const models = new Set<string>();
    if (change.model) models.add(change.model);
    if (change.kind === 'version' && change.version !== undefined) {
      for (const stack of stacksAbove(this.store, change.model, change.version)) models.add(stack.name);
    }
    return models;
  }

  /** Calls `listener` after every change applied on this node (caches of renderings drop their model's entries). */
  onChange(listener: (change: Change) => void): void {
    this.store.onChange(listener);
  }

  /** Like resolve, but a missing model, alias or version is a 404 that says which. */
  resolveOrThrow(name: string, ref: string): Resolution {
    const found = this.resolve(name, ref);
    if (found) return found;
    if (!this.store.getModel(name)) throw notFound('MODEL_NOT_FOUND', `model "${name}" does not exist`);
    const parsed = parseRef(ref);
    if (parsed.kind === 'alias') throw notFound('ALIAS_NOT_FOUND', `${name}@${ref} does not exist`);
    throw notFound('VERSION_NOT_FOUND', `${name}@${ref} does not exist`);
  }

  async createModel(name: string, info: ModelInfo, actor: Actor): Promise<Model> {
    assertModelName(name);
    const { model } = await this.store.createModel(name, info, actor);
    return model;
  }

  async updateModel(name: string, info: Partial<ModelInfo>, actor: Actor): Promise<Model> {
    const { model } = await this.store.updateModel(name, info, actor);
    return model;
  }

  async registerVersion(
    name: string,
    files: FileEntry[],
    record: VersionRecord,
    actor: Actor,
    options: RegisterOptions = {},
  ): Promise<{ version: Version; created: boolean }> {
    assertModelName(name);
    const release = this.guard.pin(files.map((f) => f.digest));
    try {
      const { version, created } = await this.store.registerVersion(await this.newVersion(name, files, record, options), actor);
      return { version, created };
    } finally {
      release();
    }
  }

  /**
   * An OCI manifest push, in one commit: registers the version its layers make (unless these files
   * already are one), records the manifest (whose bytes the caller stored as a blob), and moves the
   * alias its tag names through the same gate as any alias move. All of it, or nothing.
   */
  async pushManifest(
    name: string,
    push: {
      files: FileEntry[];
      record: VersionRecord;
      /** The version number the tag names (v<N>), if it names one. */
      number?: number;
      manifest: ManifestPush['manifest'];
      alias?: { alias: string; reason?: string };
    },
    actor: Actor,
  ): Promise<ManifestPushResult> {
    assertModelName(name);
    if (push.alias) assertAlias(push.alias.alias);
    const release = this.guard.pin(push.files.map((f) => f.digest));
    try {
      const version = await this.newVersion(name, push.files, push.record, push.number !== undefined ? { number: push.number } : {});
      const alias = push.alias && {
        alias: push.alias.alias,
        action: 'set' as const,
        ...(push.alias.reason ? { reason: push.alias.reason } : {}),
        policy: this.policyFor(push.alias.alias),
      };
      const { result } = await this.store.pushManifest({ version, manifest: push.manifest, ...(alias ? { alias } : {}) }, actor);
      return result;
    } finally {
      release();
    }
  }

  /**
   * A proposed version: its files checked against the blob store (every problem at once) and
   * sorted, a stack's components and the lineage parent frozen to the versions they name now.
   */
  private async newVersion(name: string, files: FileEntry[], record: VersionRecord, options: RegisterOptions): Promise<NewVersion> {
    const canRead = options.canRead ?? (() => true);
    const components = options.components ?? {};
    const isStack = Object.keys(components).length > 0;
    if (!isStack && files.length === 0) throw badRequest('VALIDATION_FAILED', 'files: a version needs at least one file or a component');
    const problems = await this.checkFiles(files);
    if (problems.length > 0) {
      throw badRequest(
        'FILES_INVALID',
        `${problems.length} file(s) cannot be registered: ${problems[0]!.path}: ${problems[0]!.problem}`,
        problems,
      );
    }
    const sorted = sortFiles(files);
    // References are frozen against the authority's state: a replica that lags another node's
    // registration or alias move by a moment catches up first (a no-op on the embedded store).
    if (isStack || record.lineage.parent) await this.store.sync();
    const pins = isStack ? freezeComponents(this.store, name, components, sorted, canRead, this.stackLimits) : undefined;
    const frozen = { ...record, lineage: freezeLineage(this.store, record.lineage, canRead) };
    const digest = stackDigest(sorted, pins);
    const size = sorted.reduce((sum, f) => sum + f.size, 0);
    return {
      name,
      files: sorted,
      digest,
      size,
      record: frozen,
      ...(pins ? { components: pins } : {}),
      ...(options.number !== undefined ? { number: options.number } : {}),
    };
  }

  /**
   * What keeps `alias` from pointing at the version these files make (an existing one, or a new
   * one with no approvals, card or metrics yet); empty when nothing does. Lets a caller that
   * registers and moves in one request refuse before it commits anything.
   */
  unmetForFiles(name: string, alias: string, files: FileEntry[], actor: Actor): Unmet[] {
    const existing = this.store.getVersionByDigest(name, versionDigest(sortFiles(files)));
    const candidate: Version = existing ?? {
      name,
      version: 0,
      digest: versionDigest(sortFiles(files)),
      files: [],
      size: 0,
      status: 'registered',
      metadata: {},
      lineage: {},
      metrics: {},
      card: {},
      createdAt: '',
      createdById: actor.id,
      createdBy: actor.name,
      protectedAliases: [],
      seq: 0,
    };
    return aliasMoveUnmet({
      policy: this.policyFor(alias),
      action: 'set',
      version: candidate,
      reads: existing ? gateReads(this.store, alias, existing) : NOTHING_RECORDED,
    });
  }

  /**
   * Edits a version's record. An edit of a version that holds a protected alias is allowed (the
   * alias stays; the approvals of the old record are void until re-approval) unless it would make
   * the version fail that alias's record requirements outright.
   */
  async updateVersion(
    name: string,
    number: number,
    patch: VersionPatch,
    actor: Actor,
    canRead: (model: string) => boolean = () => true,
  ): Promise<Version> {
    if (patch.lineage?.parent) await this.store.sync();
    if (patch.lineage !== undefined) patch = { ...patch, lineage: freezeLineage(this.store, patch.lineage, canRead) };
    const { version } = await this.store.updateVersion(name, number, patch, actor, (before, after) => {
      const held = this.protectedAliasesHeld(after);
      for (const alias of held) {
        const unmet = editUnmet(this.policyFor(alias)!, after, before);
        if (unmet.length > 0) {
          throw forbidden(
            'POLICY_UNMET',
            `${name}@v${number} holds ${name}@${alias} and this edit would break its policy: ${unmet.map((u) => u.message).join('; ')}`,
            unmet,
          );
        }
      }
      const approvals = this.store.listApprovals(name, number);
      return held.filter((a) => awaitsReapproval(this.policyFor(a)!, after, approvals));
    });
    return version;
  }

  /**
   * Takes a version out of service for good; it must hold no alias. The same commit flags every
   * stack above it (see planRetireVersion).
   */
  async retireVersion(name: string, number: number, reason: string | undefined, actor: Actor): Promise<Version> {
    const { version } = await this.store.retireVersion(name, number, reason, actor);
    return version;
  }

  /**
   * When the version serves on a protected alias with a record no approver has approved yet (it
   * was edited while holding it): since when, and on which aliases. Null otherwise.
   */
  servingUnapproved(version: Version): { since: string; aliases: string[] } | null {
    const approvals = this.store.listApprovals(version.name, version.version);
    const aliases = this.protectedAliasesHeld(version).filter((a) => awaitsReapproval(this.policyFor(a)!, version, approvals));
    if (aliases.length === 0) return null;
    return { since: version.recordChangedAt ?? version.createdAt, aliases };
  }

  private protectedAliasesHeld(version: Version): string[] {
    return this.store
      .listAliases(version.name)
      .filter((a) => a.version === version.version && this.policyFor(a.alias))
      .map((a) => a.alias);
  }

  /** Approve or reject: never by the registrant, once per approver and version. A rejection flags the stacks above in the same commit. */
  async decide(
    name: string,
    number: number,
    decision: 'approve' | 'reject',
    options: { comment?: string; recordDigest?: string },
    actor: Actor,
  ): Promise<{ approval: Approval; version: Version }> {
    const { approval, version } = await this.store.recordApproval(name, number, decision, options.comment, actor, (v, approvals) => {
      if (v.createdById === actor.id) {
        throw forbidden('SEPARATION_OF_DUTIES', `${actor.name} registered ${name}@v${number} and cannot also ${decision} it`);
      }
      const current = recordDigest(v);
      // An approver who names the record they reviewed gets a refusal, not an approval of something else, if it changed since.
      if (options.recordDigest !== undefined && options.recordDigest !== current) {
        throw conflict('RECORD_CHANGED', `${name}@v${number}'s record is now ${current}, not ${options.recordDigest}: review it again`, {
          recordDigest: current,
        });
      }
      const earlier = approvals.find((a) => a.approver.id === actor.id && a.recordDigest === current);
      if (earlier)
        throw conflict(
          'ALREADY_DECIDED',
          `${actor.name} already decided "${earlier.decision}" on this record of ${name}@v${number} (seq ${earlier.seq})`,
        );
    });
    return { approval, version };
  }

  async setAlias(
    name: string,
    alias: string,
    to: number,
    options: { expected?: number | null; reason?: string },
    actor: Actor,
  ): Promise<AliasMoveResult> {
    assertAlias(alias);
    const policy = this.policyFor(alias);
    return this.move(
      {
        name,
        alias,
        to,
        action: 'set',
        expected: options.expected,
        reason: options.reason,
        policy,
      },
      actor,
    );
  }

  async deleteAlias(name: string, alias: string, expected: number | undefined, actor: Actor): Promise<AliasMoveResult> {
    assertAlias(alias);
    return this.move({ name, alias, to: null, action: 'delete', expected, policy: this.policyFor(alias) }, actor);
  }

  /**
   * Moves the alias back: to `toVersion`, or else to the version it held before the current one was
   * put there. Earlier rollbacks are skipped over, so repeated rollbacks walk back through the
   * deployments instead of toggling between the last two; retired versions are skipped. The move
   * runs the same gate as any other (domain/gate.ts), which spares only the re-collection of
   * approvals, and only for a version that held the alias with the record it has now.
   */
  async rollback(
    name: string,
    alias: string,
    options: { toVersion?: number; expected?: number; reason?: string },
    actor: Actor,
  ): Promise<AliasMoveResult> {
    const plan = this.rollbackPlan(name, alias, options.toVersion);
    const target = plan.to;
    const policy = this.policyFor(alias);
    // Compare-and-set on what we read, so a concurrent move makes this call fail instead of undoing it.
    const expected = options.expected ?? plan.from;
    return this.move(
      {
        name,
        alias,
        to: target,
        action: 'rollback',
        expected,
        reason: options.reason,
        policy,
      },
      actor,
    );
  }

  /** What a rollback of the alias would do now: from its current version to `toVersion` or the previous deployment. */
  rollbackPlan(name: string, alias: string, toVersion?: number): { from: number; to: number } {
    assertAlias(alias);
    const current = this.store.getAlias(name, alias);
    if (!current) {
      if (!this.store.getModel(name)) throw notFound('MODEL_NOT_FOUND', `model "${name}" does not exist`);
      throw notFound('ALIAS_NOT_FOUND', `${name}@${alias} does not exist`);
    }
    const target =
      toVersion ??
      previousDeployment(
        this.store.aliasHistory(name, alias),
        current.version,
        (n) => this.store.getVersion(name, n)?.status !== 'retired',
      );
    if (target === null) throw conflict('NO_PREVIOUS_VERSION', `${name}@${alias} has no earlier version to roll back to`);
    return { from: current.version, to: target };
  }

  async deleteVersion(name: string, number: number, reason: string, actor: Actor): Promise<void> {
    await this.store.deleteVersion(name, number, reason, actor);
  }

  /**
   * Every version, stack and alias that includes `target`, transitively: a blob digest (versions
   * listing it; a sha256 is also looked up as a dataset digest), `name@ref` (the version and
   * everything that pins or descends from it), or a dataset URI.
   */
  impact(target: string, visible: (name: string) => boolean): ImpactReport {
    if (isDigest(target)) {
      const blobs = blobSeeds(this.store, target);
      const datasets = datasetSeeds(this.store, target);
      return impactOf(this.store, target, blobs.length === 0 && datasets.length > 0 ? 'dataset' : 'blob', [...blobs, ...datasets], visible);
    }
    if (/^[a-z0-9][^@\s]*@[^@\s]+$/.test(target) && !target.includes('://')) {
      const { name, ref } = parseReference(target);
      const version = this.findByRef(name, ref, visible);
      return impactOf(this.store, target, 'version', [{ name, version: version.version, relation: 'self' }], visible);
    }
    if (target.length === 0 || target.length > 2000)
      throw badRequest('TARGET_INVALID', 'give a blob digest, name@ref, or a dataset digest or URI');
    return impactOf(this.store, target, 'dataset', datasetSeeds(this.store, target), visible);
  }

  /** The version's ancestors and descendants (lineage parents, components, datasets) as a graph. */
  lineage(name: string, ref: string, visible: (name: string) => boolean): LineageGraph {
    return lineageGraph(this.store, this.findByRef(name, ref, visible), visible);
  }

  private findByRef(name: string, ref: string, visible: (name: string) => boolean): Version {
    assertModelName(name);
    const version = visible(name) ? findByReference(this.store, name, ref) : undefined;
    if (version) return version;
    if (!visible(name) || !this.store.getModel(name)) throw notFound('MODEL_NOT_FOUND', `model "${name}" does not exist`);
    throw notFound('VERSION_NOT_FOUND', `${name}@${ref} does not exist`);
  }

  collectGarbage(opts: GcOptions): Promise<GcReport> {
    return collectGarbage(this.store, this.blobs, this.guard, {
      keepLineageParents: this.stackLimits.gcKeepsLineageParents ?? true,
      ...opts,
    });
  }

  /** Every registered node against the authority (`modelgate control-plane status`). */
  controlPlaneStatus(): Promise<ControlPlaneStatus> {
    return this.store.controlPlaneStatus();
  }

  /**
   * Rebuilds the shared control plane from this node's replica, once its audit chain and the
   * tables it serves from verify: a replica that fails verification must not become the authority.
   */
  async restoreControlPlane(actor: Actor): Promise<ControlPlaneRestore> {
    const check = this.audit.verify();
    if (!check.ok) {
      throw conflict(
        'REPLICA_UNVERIFIED',
        `this node's replica fails audit verification${check.firstBad ? ` at sequence ${check.firstBad.seq} (${check.firstBad.reason})` : ''}: restore from another node`,
        check.firstBad,
      );
    }
    return this.store.restoreFromReplica(actor);
  }

  /**
   * Moves a blob whose stored bytes do not match its digest out of its place (`blobs verify
   * --repair`), through the outer store so that an edge cache drops its copy too, and audits the
   * move as `blob.quarantine`. Audited after the move, which is the fact worth recording: if the
   * append fails the run fails with it, and the moved object is still under quarantine/.
   */
  async quarantineBlob(digest: string, notModifiedSince: number, found: { size: number; actual: string }, actor: Actor): Promise<boolean> {
    const moved = await this.blobs.quarantine(digest, notModifiedSince);
    if (moved) {
      await this.store.appendAudit(
        'blob.quarantine',
        digest,
        { reason: 'stored bytes do not match the digest', size: found.size, actual: found.actual },
        actor,
      );
    }
    return moved;
  }

  // Lookups that answer "none" instead of throwing, for the OCI and Hub dialects' own errors.

  findModel(name: string): Model | undefined {
    return this.store.getModel(name);
  }

  findVersion(name: string, number: number): Version | undefined {
    return this.store.getVersion(name, number);
  }

  findVersionByDigest(name: string, digest: string): Version | undefined {
    return this.store.getVersionByDigest(name, digest);
  }

  /** The version whose digest starts with sha256:<hexPrefix> (a Hub commit id is 40 of its hex digits). */
  findVersionByDigestPrefix(name: string, hexPrefix: string): Version | undefined {
    return this.store.getVersionByDigestPrefix(name, hexPrefix);
  }

  findManifest(name: string, digest: string): ManifestRecord | undefined {
    return this.store.getManifest(name, digest);
  }

  /** Manifests clients pushed as the model's versions: referrers (attached to a version) are not among them. */
  listManifests(name: string): ManifestRecord[] {
    return this.store.listManifests(name).filter((m) => m.subject === undefined);
  }

  /** The referrers of a manifest of this model (signatures, SBOMs, attestations attached to its version), oldest first. */
  referrers(name: string, subject: string): ManifestRecord[] {
    return this.store
      .listManifests(name)
      .filter((m) => m.subject === subject)
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.digest < b.digest ? -1 : 1));
  }

  /**
   * Records a referrer (a manifest whose subject is a manifest of this model) for the version its
   * subject stands for; the caller stored its bytes, config and layers as blobs. No version is
   * registered and no alias moves.
   */
  async attachManifest(name: string, input: Omit<ManifestAttach, 'name'>, actor: Actor): Promise<ManifestRecord> {
    assertModelName(name);
    return (await this.store.attachManifest({ ...input, name }, actor)).result;
  }

  listAliases(name: string): AliasPointer[] {
    return this.store.listAliases(name);
  }

  /** A version's files with a stack's components under `<component>/`, as pull, Hub and OCI lay them out. */
  closureFiles(version: Version): FileEntry[] {
    return closureFiles(version.files, componentViews(version, this.lookupVersion));
  }

  /** Whether a stack of model `name` includes, directly or through other stacks, a version that lists the blob. */
  blobInStackOf(name: string, digest: string): boolean {
    return this.store.blobReferences(digest).some((r) => stacksAbove(this.store, r.name, r.version).some((s) => s.name === name));
  }

  /** Versions whose file lists include the blob. */
  blobReferences(digest: string): { name: string; version: number }[] {
    return this.store.blobReferences(digest);
  }

  getModel(name: string): Model & { aliases: Record<string, number> } {
    assertModelName(name);
    const model = this.store.getModel(name);
    if (!model) throw notFound('MODEL_NOT_FOUND', `model "${name}" does not exist`);
    const aliases = Object.fromEntries(this.store.listAliases(name).map((a) => [a.alias, a.version]));
    return { ...model, aliases };
  }

  /** The names of the models `visible` accepts, in name order after `after`: one page of at most `limit` (the OCI catalog). */
  modelNames(visible: (name: string) => boolean, after: string | undefined, limit: number): Page<string> {
    const page = this.store.listModels({ cursor: after, limit, filter: (m) => visible(m.name) });
    return { items: page.items.map((m) => m.name), nextCursor: page.nextCursor };
  }

  /** Models in name order, each with its aliases and its newest version's standing against the gates. */
  listModels(filter: ModelFilter, cursor: string | undefined, limit: number): Page<InventoryModel> {
    const text = filter.text?.toLowerCase();
    const page = this.store.listModels({
      prefix: filter.prefix,
      cursor,
      limit,
      filter: (m) =>
        filter.visible(m.name) &&
        (filter.tag === undefined || m.tags.includes(filter.tag)) &&
        (filter.owner === undefined || m.owner === filter.owner) &&
        (filter.alias === undefined || this.store.getAlias(m.name, filter.alias) !== undefined) &&
        (text === undefined || [m.name, m.description, m.owner, ...m.tags].some((field) => field.toLowerCase().includes(text))),
    });
    return { items: page.items.map((m) => inventoryRow(this.store, this.policies, m)), nextCursor: page.nextCursor };
  }

  /** Where the version stands against every protected alias's gates: the requirements and what is unmet. */
  policyStatus(name: string, number: number): AliasPolicyStatus[] {
    return policyStatus(this.store, this.policies, this.getVersion(name, number));
  }

  /** Versions waiting for a decision, across the models `visible` accepts. */
  pendingApprovals(visible: (name: string) => boolean, cursor: string | undefined, limit: number): Page<PendingVersion> {
    return pendingVersions(this.store, this.policies, visible, cursor, limit);
  }

  getVersion(name: string, number: number): Version {
    this.getModel(name);
    const version = this.store.getVersion(name, number);
    if (!version) throw notFound('VERSION_NOT_FOUND', `model "${name}" has no version ${number}`);
    return version;
  }

  /**
   * The size a registered version lists for this blob, or null when no version lists it. An
   * object of another size under the digest's key is not the blob (a short write) and is served
   * as missing.
   */
  registeredBlobSize(digest: string): number | null {
    for (const ref of this.store.blobReferences(digest)) {
      const file = this.store.getVersion(ref.name, ref.version)?.files.find((f) => f.digest === digest);
      if (file) return file.size;
    }
    return null;
  }

  /** A version as `show` presents it: its current record digest and, if so, that it serves on a record not yet re-approved. */
  showVersion(name: string, number: number): VersionView {
    const version = this.getVersion(name, number);
    const flagged = flaggedComponents(version, this.lookupVersion);
    return {
      ...version,
      recordDigest: recordDigest(version),
      servingUnapproved: this.servingUnapproved(version),
      ...(flagged.length > 0 ? { flaggedComponents: flagged } : {}),
    };
  }

  /**
   * A version as it was at `at`: its record and status then (later edits undone from the version
   * history), `servingUnapproved` null (that flag is about now). 404 when it was not registered yet.
   */
  showVersionAt(name: string, number: number, at: Date): VersionView & { at: string } {
    const current = this.getVersion(name, number);
    const then = versionAt(current, this.store.versionHistory(name, number), at.getTime());
    if (!then) throw notFound('VERSION_NOT_FOUND', `${name}@v${number} was not registered yet at ${at.toISOString()}`);
    return { ...then, recordDigest: recordDigest(then), servingUnapproved: null, at: at.toISOString() };
  }

  /**
   * What name@ref resolved to at `at`: an alias from its history (the version it pointed at then),
   * and the version's record as it was then. A 404 says what did not exist at that time.
   */
  resolveAt(name: string, ref: string, at: Date): Resolution {
    if (!this.store.getModel(name)) throw notFound('MODEL_NOT_FOUND', `model "${name}" does not exist`);
    const parsed = parseRef(ref);
    const when = at.toISOString();
    let number: number;
    let pointer: { alias: string; seq: number; updatedAt: string } | null = null;
    if (parsed.kind === 'alias') {
      const then = this.aliasAt(name, parsed.alias, at);
      if (then.version === null) throw notFound('ALIAS_NOT_FOUND', `${name}@${ref} pointed at nothing at ${when}`);
      number = then.version;
      pointer = { alias: parsed.alias, seq: then.seq!, updatedAt: then.since! };
    } else {
      const found =
        parsed.kind === 'version' ? this.store.getVersion(name, parsed.version) : this.store.getVersionByDigest(name, parsed.digest);
      if (!found) throw notFound('VERSION_NOT_FOUND', `${name}@${ref} does not exist`);
      number = found.version;
    }
    const current = this.store.getVersion(name, number);
    const then = current && versionAt(current, this.store.versionHistory(name, number), at.getTime());
    if (!then) throw notFound('VERSION_NOT_FOUND', `${name}@${ref} did not exist at ${when}`);
    return { ...buildResolution(name, ref, then, pointer, this.lookupVersion), at: when };
  }

  listVersions(name: string, cursor: number | undefined, limit: number): Page<Version> {
    this.getModel(name);
    return this.store.listVersions(name, cursor, limit);
  }

  versionHistory(name: string, number: number) {
    this.getVersion(name, number);
    return { events: this.store.versionHistory(name, number), approvals: this.store.listApprovals(name, number) };
  }

  aliasHistory(name: string, alias: string): AliasEvent[] {
    assertAlias(alias);
    this.getModel(name);
    return this.store.aliasHistory(name, alias);
  }

  /** What the alias pointed at, at time `at`: the last change at or before it (by sequence order). */
  aliasAt(name: string, alias: string, at: Date): { version: number | null; since: string | null; seq: number | null } {
    let found: AliasEvent | undefined;
    for (const e of this.aliasHistory(name, alias)) {
      if (Date.parse(e.at) <= at.getTime()) found = e;
      else break;
    }
    return found ? { version: found.to, since: found.at, seq: found.seq } : { version: null, since: null, seq: null };
  }

  /** Which version each alias served, from when until when: one span per alias change. */
  deployments(name: string, now = new Date()): DeploymentSpan[] {
    this.getModel(name);
    const spans: DeploymentSpan[] = [];
    const open = new Map<string, DeploymentSpan>();
    for (const e of this.store.modelAliasEvents(name)) {
      const running = open.get(e.alias);
      if (running) {
        running.until = e.at;
        running.untilSeq = e.seq;
        running.seconds = (Date.parse(e.at) - Date.parse(running.from)) / 1000;
        open.delete(e.alias);
      }
      if (e.to !== null) {
        const span: DeploymentSpan = { alias: e.alias, version: e.to, from: e.at, until: null, seconds: 0, fromSeq: e.seq, untilSeq: null };
        spans.push(span);
        open.set(e.alias, span);
      }
    }
    for (const span of open.values()) span.seconds = (now.getTime() - Date.parse(span.from)) / 1000;
    return spans.sort((a, b) => a.fromSeq - b.fromSeq);
  }

  private async move(move: AliasMove, actor: Actor): Promise<AliasMoveResult> {
    assertModelName(move.name);
    const { result } = await this.store.moveAlias(move, actor);
    return result;
  }

  private readonly lookupVersion = (name: string, version: number) => this.store.getVersion(name, version);

  private lookup(name: string, parsed: Ref, ref: string): Resolution | null {
    if (parsed.kind === 'alias') {
      const pointer = this.store.getAlias(name, parsed.alias);
      const version = pointer && this.store.getVersion(name, pointer.version);
      if (!version) return null;
      // The alias points at this version, so it serves it unapproved only if it is under a policy
      // the version no longer meets: an unprotected alias (every resolve in a deployment without
      // policies) needs no read of the approvals or of the model's other aliases.
      const policy = this.policyFor(parsed.alias);
      const unapprovedSince =
        policy && awaitsReapproval(policy, version, this.store.listApprovals(name, version.version))
          ? (version.recordChangedAt ?? version.createdAt)
          : undefined;
      return buildResolution(
        name,
        ref,
        version,
        { alias: parsed.alias, seq: pointer.seq, updatedAt: pointer.updatedAt, unapprovedSince },
        this.lookupVersion,
      );
    }
    const version =
      parsed.kind === 'version' ? this.store.getVersion(name, parsed.version) : this.store.getVersionByDigest(name, parsed.digest);
    return version ? buildResolution(name, ref, version, null, this.lookupVersion) : null;
  }

  /** Every problem with a proposed file list, so the client can fix them all at once. */
  private async checkFiles(files: FileEntry[]): Promise<FileProblem[]> {
    const problems: FileProblem[] = [];
    const seen = new Set<string>();
    const toStat: FileEntry[] = [];
    for (const file of files) {
      const pathProblem = filePathProblem(file.path);
      if (pathProblem) problems.push({ path: file.path, problem: pathProblem });
      else if (seen.has(file.path)) problems.push({ path: file.path, problem: 'path appears more than once' });
      seen.add(file.path);
      if (!isDigest(file.digest))
        problems.push({ path: file.path, problem: `digest "${String(file.digest).slice(0, 80)}" is not sha256:<64 lowercase hex>` });
      else if (!pathProblem) toStat.push(file);
    }
    for (let i = 0; i < toStat.length; i += STAT_CONCURRENCY) {
      const batch = toStat.slice(i, i + STAT_CONCURRENCY);
      const infos = await Promise.all(batch.map((f) => (this.guard.isBeingRemoved(f.digest) ? null : this.blobs.stat(f.digest))));
      batch.forEach((file, j) => {
        const info = infos[j];
        if (!info) problems.push({ path: file.path, problem: `blob ${file.digest} has not been uploaded` });
        else if (info.size !== file.size)
          problems.push({ path: file.path, problem: `size is ${file.size} but blob ${file.digest} has ${info.size} bytes` });
      });
    }
    return problems;
  }
}

/**
 * The version an alias held before `current` was last deployed to it, skipping rollbacks; a
 * version `usable` refuses (retired) is passed over for the one deployed before it.
 */
export function previousDeployment(
  history: readonly AliasEvent[],
  current: number,
  usable: (version: number) => boolean = () => true,
): number | null {
  let wanted = current;
  for (let i = history.length - 1; i >= 0; i--) {
    const event = history[i]!;
    if (event.action === 'rollback' || event.to !== wanted) continue;
    if (event.from === null) return null;
    if (usable(event.from)) return event.from;
    wanted = event.from;
  }
  return null;
}
