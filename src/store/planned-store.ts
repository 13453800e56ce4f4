// The ControlStore operations expressed once over the pure plans; a backend supplies a synchronous
// state view and a way to commit a plan atomically against it.
import type {
  Actor,
  AuditEntry,
  Change,
  ChangeNotice,
  ControlPlaneRestore,
  ControlPlaneStatus,
  ModelInfo,
  TokenRecord,
  Version,
} from '../domain/types.js';
import type { AliasMove, ManifestAttach, ManifestPush, NewVersion, VersionPatch } from '../domain/mutations.js';
import type { Checkpoint } from '../domain/checkpoint.js';
import type { RegistryReader } from '../domain/state.js';
import type { SharedTable } from '../index/shared-table.js';
import type { LocalTable } from '../index/local-table.js';
import type { ControlStore, DeliveryQueue } from './control-store.js';
import { planCreateWebhook, planDeleteWebhook, planRotateWebhook } from '../domain/webhook-plans.js';
import type { OutboxEntry, WebhookEndpoint } from '../domain/webhooks.js';
import type { SignatureRecord } from '../domain/model-signing.js';
import { planAttachSignature } from '../domain/signature-plans.js';
import * as plans from '../domain/plans.js';
import { valueWritten, type Plan, type Write } from '../domain/writes.js';

export abstract class PlannedStore implements ControlStore {
  private readonly listeners: ((change: Change) => void)[] = [];
  private readonly commitListeners: ((notice: ChangeNotice) => void)[] = [];

  /** The state plans read from: the authority itself, or a replica caught up with it. */
  protected abstract readonly state: RegistryReader;

  /** Runs `plan` against the current state and commits its writes atomically; returns the plan. */
  protected abstract commit<R>(plan: (state: RegistryReader) => Plan<R>): Promise<Plan<R>>;

  abstract openLocalTable<V>(name: string): LocalTable<V>;
  abstract sharedTable<V>(name: string): SharedTable<V>;
  abstract getSetting(key: string): unknown;
  abstract putSetting(key: string, value: unknown): Promise<void>;
  abstract registerNode(address: string): void;
  abstract controlPlaneStatus(): Promise<ControlPlaneStatus>;
  abstract restoreFromReplica(actor: Actor): Promise<ControlPlaneRestore>;
  abstract close(): Promise<void>;
  abstract deliveryQueue(): DeliveryQueue;
  abstract acquireLease(name: string, ttlMs: number): Promise<boolean>;

  onChange(listener: (change: Change) => void): void {
    this.listeners.push(listener);
  }

  /** Calls `listener` after every change this node committed (to tell the other nodes). */
  onCommit(listener: (notice: ChangeNotice) => void): void {
    this.commitListeners.push(listener);
  }

  /** Catches up with the authority; a no-op where this store is the authority. */
  sync(_seq?: number, _replication?: unknown): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The change being emitted and its writes, while its listeners run: the watch feed renders every
   * change from its audit entry and the webhook worker asks for its outbox entry, and answering
   * from the objects just written spares each node reading them back (an LMDB read and a decode
   * each) on the path of propagation.
   */
  private emitting: { seq: number; writes: readonly Write[] } | undefined;

  /** Tells this node's listeners about a change now in its state (its own commit or a replicated one), with its writes when the caller has them. */
  protected emit(change: Change, writes?: readonly Write[]): void {
    this.emitting = writes ? { seq: change.seq, writes } : undefined;
    try {
      for (const listener of this.listeners) listener(change);
    } finally {
      this.emitting = undefined;
    }
  }

  /**
   * Tells the commit listeners about a change this node committed, from inside `commit` and as
   * soon as the authority holds it: other nodes can then catch up while this one applies it.
   */
  protected announce(notice: ChangeNotice): void {
    for (const listener of this.commitListeners) listener(notice);
  }

  private async run<R>(plan: (state: RegistryReader) => Plan<R>): Promise<{ result: R; change?: Change }> {
    const done = await this.commit(plan);
    return { result: done.result, ...(done.change ? { change: done.change } : {}) };
  }

  // ---- reads ----
  currentSeq() {
    return this.state.currentSeq();
  }
  getModel(name: string) {
    return this.state.getModel(name);
  }
  getVersion(name: string, version: number) {
    return this.state.getVersion(name, version);
  }
  getVersionByDigest(name: string, digest: string) {
    return this.state.getVersionByDigest(name, digest);
  }
  getVersionByDigestPrefix(name: string, hexPrefix: string) {
    return this.state.getVersionByDigestPrefix(name, hexPrefix);
  }
  getManifest(name: string, digest: string) {
    return this.state.getManifest(name, digest);
  }
  listManifests(name: string) {
    return this.state.listManifests(name);
  }
  getAlias(name: string, alias: string) {
    return this.state.getAlias(name, alias);
  }
  listAliases(name: string) {
    return this.state.listAliases(name);
  }
  listModels(query: Parameters<RegistryReader['listModels']>[0]) {
    return this.state.listModels(query);
  }
  listVersions(name: string, cursor: number | undefined, limit: number) {
    return this.state.listVersions(name, cursor, limit);
  }
  allVersions() {
    return this.state.allVersions();
  }
  aliasHistory(name: string, alias: string) {
    return this.state.aliasHistory(name, alias);
  }
  aliasEventsNewestFirst(name: string, alias: string) {
    return this.state.aliasEventsNewestFirst(name, alias);
  }
  modelAliasEvents(name: string) {
    return this.state.modelAliasEvents(name);
  }
  listApprovals(name: string, version: number) {
    return this.state.listApprovals(name, version);
  }
  versionHistory(name: string, version: number) {
    return this.state.versionHistory(name, version);
  }
  getToken(id: string) {
    return this.state.getToken(id);
  }
  listTokens() {
    return this.state.listTokens();
  }
  isBlobReferenced(digest: string) {
    return this.state.isBlobReferenced(digest);
  }
  blobReferences(digest: string) {
    return this.state.blobReferences(digest);
  }
  stacksContaining(name: string, version: number) {
    return this.state.stacksContaining(name, version);
  }
  lineageChildren(name: string, version: number) {
    return this.state.lineageChildren(name, version);
  }
  datasetReferences(key: string) {
    return this.state.datasetReferences(key);
  }
  auditEntries(fromSeq: number, limit: number) {
    if (limit === 1 && this.emitting?.seq === fromSeq) {
      const entry = valueWritten(this.emitting.writes, 'audit', fromSeq) as AuditEntry | undefined;
      if (entry) return [entry];
    }
    return this.state.auditEntries(fromSeq, limit);
  }
  auditHead() {
    return this.state.auditHead();
  }
  lastCheckpoint() {
    return this.state.lastCheckpoint();
  }
  listWebhooks() {
    return this.state.listWebhooks();
  }
  getWebhook(id: string) {
    return this.state.getWebhook(id);
  }
  listSignatures(name: string, version: number) {
    return this.state.listSignatures(name, version);
  }
  outboxEntries(afterSeq: number, limit: number) {
    return this.state.outboxEntries(afterSeq, limit);
  }
  outboxEntryAt(seq: number) {
    // The writes of a change hold its outbox entry if it has one: none there means none at all.
    if (this.emitting?.seq === seq) return valueWritten(this.emitting.writes, 'outbox', seq) as OutboxEntry | undefined;
    return this.state.outboxEntryAt(seq);
  }

  // ---- mutations ----
  async createModel(name: string, info: ModelInfo, actor: Actor) {
    const { result, change } = await this.run((s) => plans.planCreateModel(s, name, info, actor));
    return { model: result, change: change! };
  }

  async updateModel(name: string, info: Partial<ModelInfo>, actor: Actor) {
    const { result, change } = await this.run((s) => plans.planUpdateModel(s, name, info, actor));
    return { model: result, change: change! };
  }

  async registerVersion(input: NewVersion, actor: Actor) {
    const { result, change } = await this.run((s) => plans.planRegisterVersion(s, input, actor));
    return { ...result, ...(change ? { change } : {}) };
  }

  async updateVersion(
    name: string,
    version: number,
    patch: VersionPatch,
    actor: Actor,
    check?: (before: Version, after: Version) => string[] | undefined,
  ) {
    const { result, change } = await this.run((s) => plans.planUpdateVersion(s, name, version, patch, actor, check));
    return { version: result, change: change! };
  }

  async retireVersion(name: string, version: number, reason: string | undefined, actor: Actor) {
    const { result, change } = await this.run((s) => plans.planRetireVersion(s, name, version, reason, actor));
    return { version: result, ...(change ? { change } : {}) };
  }

  // The parameters as the interface states them (name, version, decision, comment, actor, check).
  async recordApproval(...[name, version, decision, comment, actor, check]: Parameters<ControlStore['recordApproval']>) {
    const { result, change } = await this.run((s) => plans.planApproval(s, name, version, decision, comment, actor, check));
    return { ...result, change: change! };
  }

  async moveAlias(move: AliasMove, actor: Actor) {
    const { result, change } = await this.run((s) => plans.planMoveAlias(s, move, actor));
    return { result, ...(change ? { change } : {}) };
  }

  async deleteVersion(name: string, version: number, reason: string, actor: Actor, opts?: { evidence?: boolean }) {
    const { change } = await this.run((s) => plans.planDeleteVersion(s, name, version, reason, actor, opts));
    return { change: change! };
  }

  pushManifest(push: ManifestPush, actor: Actor) {
    return this.run((s) => plans.planPushManifest(s, push, actor));
  }

  attachManifest(input: ManifestAttach, actor: Actor) {
    return this.run((s) => plans.planAttachManifest(s, input, actor));
  }

  async attachSignature(input: Omit<SignatureRecord, 'addedAt' | 'addedBy'>, actor: Actor) {
    return (await this.run((s) => planAttachSignature(s, input, actor))).result;
  }

  async createWebhook(
    input: Omit<WebhookEndpoint, 'createdAt' | 'createdBy' | 'seq' | 'secrets'> & { secret: string },
    actor: Actor,
  ): Promise<WebhookEndpoint> {
    return (await this.run((s) => planCreateWebhook(s, input, actor))).result;
  }

  async rotateWebhook(id: string, secret: string, previousUntil: string, actor: Actor): Promise<WebhookEndpoint> {
    return (await this.run((s) => planRotateWebhook(s, id, secret, previousUntil, actor))).result;
  }

  async deleteWebhook(id: string, actor: Actor): Promise<WebhookEndpoint> {
    return (await this.run((s) => planDeleteWebhook(s, id, actor))).result;
  }

  async createToken(record: TokenRecord, actor: Actor): Promise<void> {
    await this.run((s) => plans.planCreateToken(s, record, actor));
  }

  async revokeToken(id: string, actor: Actor): Promise<TokenRecord> {
    return (await this.run((s) => plans.planRevokeToken(s, id, actor))).result;
  }

  async checkpoint(sign: (head: { seq: number; hash: string; at: string }) => Checkpoint, actor: Actor) {
    const { result, change } = await this.run((s) => plans.planCheckpoint(s, sign, actor));
    return { ...result, ...(change ? { change } : {}) };
  }

  async appendAudit(action: string, target: string, details: Record<string, unknown>, actor: Actor): Promise<number> {
    return (await this.run((s) => plans.planAudit(s, action, target, details, actor))).result;
  }
}
