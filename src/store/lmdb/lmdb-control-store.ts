// ControlStore on embedded LMDB. Mutations read and validate first and only then write, inside one
// lmdb-js `transaction`: that call commits asynchronously in a batch (the event loop never waits
// on fsync), but unlike `transactionSync` it does not roll back writes made before a throw, so no
// code that can throw runs after the first write.
import { open, type Database, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, conflict, notFound } from '../../errors.js';
import { auditHash, GENESIS_HASH } from '../../registry/audit-chain.js';
import type {
  Actor,
  AliasEvent,
  AliasPointer,
  Approval,
  AuditEntry,
  Change,
  Model,
  ModelInfo,
  Page,
  TokenRecord,
  Version,
  VersionEvent,
} from '../../registry/types.js';
import type {
  AliasMove,
  AliasMoveResult,
  ControlStore,
  ListModelsQuery,
  NewVersion,
  VersionPatch,
} from '../control-store.js';

type Key = string | number | (string | number)[];

interface Write {
  db: Database<any, Key>;
  key: Key;
  /** undefined removes the key. */
  value: unknown;
}

interface AuditHead {
  seq: number;
  hash: string;
}

interface Plan<R> {
  result: R;
  writes: Write[];
}

const MAX = Number.MAX_SAFE_INTEGER;
const PATCHABLE = ['metadata', 'lineage', 'metrics', 'card', 'status'] as const;

export class LmdbControlStore implements ControlStore {
  private readonly root: RootDatabase<unknown, Key>;
  private readonly meta: Database<unknown, Key>;
  private readonly models: Database<Model, Key>;
  private readonly versions: Database<Version, Key>;
  private readonly versionDigests: Database<number, Key>;
  private readonly versionEvents: Database<VersionEvent, Key>;
  private readonly approvals: Database<Approval, Key>;
  private readonly aliases: Database<AliasPointer, Key>;
  private readonly aliasEvents: Database<AliasEvent, Key>;
  private readonly blobRefs: Database<true, Key>;
  private readonly tokens: Database<TokenRecord, Key>;
  private readonly audit: Database<AuditEntry, Key>;

  constructor(dataDir: string) {
    const dir = join(dataDir, 'index');
    mkdirSync(dir, { recursive: true });
    this.root = open<unknown, Key>({ path: dir, maxDbs: 32 });
    this.meta = this.root.openDB({ name: 'meta' });
    this.models = this.root.openDB<Model, Key>({ name: 'models' });
    this.versions = this.root.openDB<Version, Key>({ name: 'versions' });
    this.versionDigests = this.root.openDB<number, Key>({ name: 'version-digests' });
    this.versionEvents = this.root.openDB<VersionEvent, Key>({ name: 'version-events' });
    this.approvals = this.root.openDB<Approval, Key>({ name: 'approvals' });
    this.aliases = this.root.openDB<AliasPointer, Key>({ name: 'aliases' });
    this.aliasEvents = this.root.openDB<AliasEvent, Key>({ name: 'alias-events' });
    this.blobRefs = this.root.openDB<true, Key>({ name: 'blob-refs' });
    this.tokens = this.root.openDB<TokenRecord, Key>({ name: 'tokens' });
    this.audit = this.root.openDB<AuditEntry, Key>({ name: 'audit' });
  }

  /** Opens a sub-database in the same environment, for node-local state such as upload sessions. */
  openTable<V>(name: string): Database<V, string> {
    return this.root.openDB<V, string>({ name });
  }

  // ---- reads ----

  currentSeq(): number {
    return (this.meta.get('seq') as number | undefined) ?? 0;
  }

  getModel(name: string): Model | undefined {
    return this.models.get(name);
  }

  getVersion(name: string, version: number): Version | undefined {
    return this.versions.get([name, version]);
  }

  getVersionByDigest(name: string, digest: string): Version | undefined {
    const n = this.versionDigests.get([name, digest]);
    return n === undefined ? undefined : this.getVersion(name, n);
  }

  getAlias(name: string, alias: string): AliasPointer | undefined {
    return this.aliases.get([name, alias]);
  }

  listAliases(name: string): AliasPointer[] {
    return [...this.aliases.getRange({ start: [name, ''], end: [name, '\uffff'] }).map((e) => e.value)];
  }

  listModels(query: ListModelsQuery): Page<Model> {
    const prefix = query.prefix ?? '';
    const start = query.cursor && query.cursor >= prefix ? query.cursor + '\u0000' : prefix;
    const items: Model[] = [];
    let more = false;
    for (const { value } of this.models.getRange({ start, end: prefix + '\uffff' })) {
      if (query.filter && !query.filter(value)) continue;
      if (items.length === query.limit) {
        more = true;
        break;
      }
      items.push(value);
    }
    return { items, nextCursor: more ? items[items.length - 1]!.name : null };
  }

  listVersions(name: string, cursor: number | undefined, limit: number): Page<Version> {
    const items = [
      ...this.versions.getRange({ start: [name, (cursor ?? 0) + 1], end: [name, MAX], limit: limit + 1 }).map((e) => e.value),
    ];
    const more = items.length > limit;
    if (more) items.pop();
    return { items, nextCursor: more ? String(items[items.length - 1]!.version) : null };
  }

  *allVersions(): Iterable<Version> {
    for (const { value } of this.versions.getRange({})) yield value;
  }

  aliasHistory(name: string, alias: string): AliasEvent[] {
    return [...this.aliasEvents.getRange({ start: [name, alias, 0], end: [name, alias, MAX] }).map((e) => e.value)];
  }

  modelAliasEvents(name: string): AliasEvent[] {
    return [...this.aliasEvents.getRange({ start: [name, ''], end: [name, '\uffff'] }).map((e) => e.value)];
  }

  listApprovals(name: string, version: number): Approval[] {
    return [...this.approvals.getRange({ start: [name, version, 0], end: [name, version, MAX] }).map((e) => e.value)];
  }

  versionHistory(name: string, version: number): VersionEvent[] {
    return [...this.versionEvents.getRange({ start: [name, version, 0], end: [name, version, MAX] }).map((e) => e.value)];
  }

  getToken(id: string): TokenRecord | undefined {
    return this.tokens.get(id);
  }

  listTokens(): TokenRecord[] {
    return [...this.tokens.getRange({}).map((e) => e.value)];
  }

  isBlobReferenced(digest: string): boolean {
    for (const _ of this.blobRefs.getKeys({ start: [digest, ''], end: [digest, '\uffff'], limit: 1 })) return true;
    return false;
  }

  blobReferences(digest: string): { name: string; version: number }[] {
    return [...this.blobRefs.getKeys({ start: [digest, ''], end: [digest, '\uffff'] })].map((k) => {
      const [, name, version] = k as [string, string, number];
      return { name, version };
    });
  }

  auditEntries(fromSeq: number, limit: number): AuditEntry[] {
    return [...this.audit.getRange({ start: fromSeq, limit }).map((e) => e.value)];
  }

  // ---- mutations ----

  async createModel(name: string, info: ModelInfo, actor: Actor): Promise<{ model: Model; change: Change }> {
    return this.mutate(() => {
      if (this.getModel(name)) throw conflict('MODEL_EXISTS', `model "${name}" already exists`);
      const at = new Date().toISOString();
      const seq = this.currentSeq() + 1;
      const model: Model = { name, ...info, createdAt: at, createdBy: actor.name, latestVersion: 0, seq, updatedAt: at };
      const writes: Write[] = [
        { db: this.models, key: name, value: model },
        ...this.sequenceWrites(seq, at, actor, 'model.create', name, { ...info }),
      ];
      return { result: { model, change: { seq, model: name, kind: 'model' } }, writes };
    });
  }

  async updateModel(name: string, info: Partial<ModelInfo>, actor: Actor): Promise<{ model: Model; change: Change }> {
    return this.mutate(() => {
      const current = this.requireModel(name);
      const at = new Date().toISOString();
      const seq = this.currentSeq() + 1;
      const model: Model = { ...current, ...info, seq, updatedAt: at };
      const writes: Write[] = [
        { db: this.models, key: name, value: model },
        ...this.sequenceWrites(seq, at, actor, 'model.update', name, { ...info }),
      ];
      return { result: { model, change: { seq, model: name, kind: 'model' } }, writes };
    });
  }

  async registerVersion(input: NewVersion, actor: Actor): Promise<{ version: Version; created: boolean; change?: Change }> {
    return this.mutate<{ version: Version; created: boolean; change?: Change }>(() => {
      const existing = this.getVersionByDigest(input.name, input.digest);
      if (existing) return { result: { version: existing, created: false }, writes: [] };

      const at = new Date().toISOString();
      const seq = this.currentSeq() + 1;
      const model = this.getModel(input.name);
      const number = (model?.latestVersion ?? 0) + 1;
      const version: Version = {
        name: input.name,
        version: number,
        digest: input.digest,
        files: input.files,
        size: input.size,
        status: 'registered',
        ...input.record,
        createdAt: at,
        createdById: actor.id,
        createdBy: actor.name,
        protectedAliases: [],
        seq,
      };
      const nextModel: Model = model
        ? { ...model, latestVersion: number, seq, updatedAt: at }
        : {
            name: input.name,
            description: '',
            owner: actor.name,
            tags: [],
            createdAt: at,
            createdBy: actor.name,
            latestVersion: number,
            seq,
            updatedAt: at,
          };
      const event: VersionEvent = { seq, name: input.name, version: number, action: 'register', actor, at };
      const writes: Write[] = [
        { db: this.models, key: input.name, value: nextModel },
        { db: this.versions, key: [input.name, number], value: version },
        { db: this.versionDigests, key: [input.name, input.digest], value: number },
        { db: this.versionEvents, key: [input.name, number, seq], value: event },
        ...uniqueDigests(input.files).map((d) => ({ db: this.blobRefs, key: [d, input.name, number], value: true })),
        ...this.sequenceWrites(seq, at, actor, 'version.register', `${input.name}@v${number}`, {
          digest: input.digest,
          files: input.files.length,
          size: input.size,
          modelCreated: !model,
        }),
      ];
      const change: Change = { seq, model: input.name, kind: 'version', version: number };
      return { result: { version, created: true, change }, writes };
    });
  }

  async updateVersion(name: string, number: number, patch: VersionPatch, actor: Actor): Promise<{ version: Version; change: Change }> {
    return this.mutate(() => {
      const current = this.requireVersion(name, number);
      const at = new Date().toISOString();
      const seq = this.currentSeq() + 1;
      const changes: Record<string, { before: unknown; after: unknown }> = {};
      const next: Version = { ...current, seq };
      for (const field of PATCHABLE) {
        if (patch[field] === undefined) continue;
        changes[field] = { before: current[field], after: patch[field] };
        (next as unknown as Record<string, unknown>)[field] = patch[field];
      }
      const event: VersionEvent = { seq, name, version: number, action: 'update', actor, at, changes };
      const writes: Write[] = [
        { db: this.versions, key: [name, number], value: next },
        { db: this.versionEvents, key: [name, number, seq], value: event },
        ...this.sequenceWrites(seq, at, actor, 'version.update', `${name}@v${number}`, { fields: Object.keys(changes) }),
      ];
      return { result: { version: next, change: { seq, model: name, kind: 'version', version: number } }, writes };
    });
  }

  async recordApproval(
    name: string,
    number: number,
    decision: 'approve' | 'reject',
    comment: string | undefined,
    actor: Actor,
    check: (version: Version, approvals: readonly Approval[]) => void,
  ): Promise<{ approval: Approval; version: Version; change: Change }> {
    return this.mutate(() => {
      const current = this.requireVersion(name, number);
      check(current, this.listApprovals(name, number));
      const at = new Date().toISOString();
      const seq = this.currentSeq() + 1;
      const approval: Approval = { seq, name, version: number, decision, approver: actor, at, ...(comment ? { comment } : {}) };
      const status =
        decision === 'reject' ? 'rejected' : current.status === 'registered' ? 'approved' : current.status;
      const version: Version = { ...current, status, seq };
      const event: VersionEvent = {
        seq,
        name,
        version: number,
        action: decision,
        actor,
        at,
        ...(status !== current.status ? { changes: { status: { before: current.status, after: status } } } : {}),
        ...(comment ? { comment } : {}),
      };
      const writes: Write[] = [
        { db: this.approvals, key: [name, number, seq], value: approval },
        { db: this.versions, key: [name, number], value: version },
        { db: this.versionEvents, key: [name, number, seq], value: event },
        ...this.sequenceWrites(seq, at, actor, `version.${decision}`, `${name}@v${number}`, {
          status,
          ...(comment ? { comment } : {}),
        }),
      ];
      return { result: { approval, version, change: { seq, model: name, kind: 'version', version: number } }, writes };
    });
  }

  async moveAlias(move: AliasMove, actor: Actor): Promise<{ result: AliasMoveResult; change?: Change }> {
    return this.mutate<{ result: AliasMoveResult; change?: Change }>(() => {
      const { name, alias } = move;
      this.requireModel(name);
      const current = this.getAlias(name, alias);
      const previous = current?.version ?? null;
      if (move.expected !== undefined && move.expected !== previous) {
        throw conflict(
          'ALIAS_CONFLICT',
          `${name}@${alias} points at ${previous === null ? 'nothing' : `v${previous}`}, not ${move.expected === null ? 'nothing' : `v${move.expected}`}`,
          { current: previous, expected: move.expected },
        );
      }
      if (move.to === null && !current) throw notFound('ALIAS_NOT_FOUND', `${name}@${alias} does not exist`);
      const target = move.to === null ? undefined : this.requireVersion(name, move.to);
      if (target && move.gate) {
        const unmet = move.gate(target, this.listApprovals(name, target.version), this.aliasHistory(name, alias));
        if (unmet.length > 0) {
          throw new ApiError(403, 'POLICY_UNMET', `${name}@v${target.version} cannot become ${name}@${alias}: ${unmet.map((u) => u.message).join('; ')}`, unmet);
        }
      }
      if (move.to === previous) {
        const unchanged: AliasMoveResult = { name, alias, version: previous, previous, seq: current!.seq, changed: false };
        return { result: { result: unchanged }, writes: [] };
      }

      const at = new Date().toISOString();
      const seq = this.currentSeq() + 1;
      const event: AliasEvent = {
        seq,
        name,
        alias,
        action: move.action,
        from: previous,
        to: move.to,
        actor,
        at,
        ...(move.reason ? { reason: move.reason } : {}),
      };
      const pointer: AliasPointer | undefined =
        move.to === null ? undefined : { name, alias, version: move.to, seq, updatedAt: at, updatedBy: actor.name };
      const writes: Write[] = [
        { db: this.aliases, key: [name, alias], value: pointer },
        { db: this.aliasEvents, key: [name, alias, seq], value: event },
        ...this.sequenceWrites(seq, at, actor, `alias.${move.action}`, `${name}@${alias}`, {
          from: previous,
          to: move.to,
          ...(move.reason ? { reason: move.reason } : {}),
        }),
      ];
      if (target && move.protected && !target.protectedAliases.includes(alias)) {
        writes.push({ db: this.versions, key: [name, target.version], value: { ...target, protectedAliases: [...target.protectedAliases, alias] } });
      }
      const result: AliasMoveResult = { name, alias, version: move.to, previous, seq, changed: true };
      return { result: { result, change: { seq, model: name, kind: 'alias', alias } }, writes };
    });
  }

  async deleteVersion(name: string, number: number, reason: string, actor: Actor): Promise<{ change: Change }> {
    return this.mutate(() => {
      const version = this.requireVersion(name, number);
      const holders = this.listAliases(name).filter((a) => a.version === number).map((a) => a.alias);
      if (holders.length > 0) throw conflict('VERSION_IN_USE', `${name}@v${number} is held by ${holders.map((a) => `@${a}`).join(', ')}`);
      if (version.protectedAliases.length > 0) {
        throw conflict('VERSION_RETAINED', `${name}@v${number} once held protected alias(es) ${version.protectedAliases.join(', ')} and is kept forever`);
      }
      const at = new Date().toISOString();
      const seq = this.currentSeq() + 1;
      const writes: Write[] = [
        { db: this.versions, key: [name, number], value: undefined },
        { db: this.versionDigests, key: [name, version.digest], value: undefined },
        ...uniqueDigests(version.files).map((d) => ({ db: this.blobRefs, key: [d, name, number], value: undefined })),
        ...this.sequenceWrites(seq, at, actor, 'version.delete', `${name}@v${number}`, { digest: version.digest, reason }),
      ];
      return { result: { change: { seq, model: name, kind: 'version', version: number } }, writes };
    });
  }

  async createToken(record: TokenRecord, actor: Actor): Promise<void> {
    return this.mutate(() => {
      if (this.getToken(record.id)) throw conflict('TOKEN_EXISTS', `token ${record.id} already exists`);
      const at = new Date().toISOString();
      const seq = this.currentSeq() + 1;
      const writes: Write[] = [
        { db: this.tokens, key: record.id, value: record },
        ...this.sequenceWrites(seq, at, actor, 'token.create', `token:${record.id}`, {
          name: record.name,
          role: record.role,
          scope: record.scope,
          expiresAt: record.expiresAt,
        }),
      ];
      return { result: undefined, writes };
    });
  }

  async revokeToken(id: string, actor: Actor): Promise<TokenRecord> {
    return this.mutate(() => {
      const token = this.getToken(id);
      if (!token) throw notFound('TOKEN_NOT_FOUND', `token ${id} does not exist`);
      if (token.revokedAt) return { result: token, writes: [] };
      const at = new Date().toISOString();
      const seq = this.currentSeq() + 1;
      const revoked = { ...token, revokedAt: at };
      const writes: Write[] = [
        { db: this.tokens, key: id, value: revoked },
        ...this.sequenceWrites(seq, at, actor, 'token.revoke', `token:${id}`, { name: token.name }),
      ];
      return { result: revoked, writes };
    });
  }

  async appendAudit(action: string, target: string, details: Record<string, unknown>, actor: Actor): Promise<number> {
    return this.mutate(() => {
      const seq = this.currentSeq() + 1;
      return { result: seq, writes: this.sequenceWrites(seq, new Date().toISOString(), actor, action, target, details) };
    });
  }

  getSetting(key: string): unknown {
    return this.meta.get(`setting:${key}`);
  }

  async putSetting(key: string, value: unknown): Promise<void> {
    await this.meta.put(`setting:${key}`, value);
  }

  async close(): Promise<void> {
    await this.root.close();
  }

  private requireModel(name: string): Model {
    const model = this.getModel(name);
    if (!model) throw notFound('MODEL_NOT_FOUND', `model "${name}" does not exist`);
    return model;
  }

  private requireVersion(name: string, number: number): Version {
    this.requireModel(name);
    const version = this.getVersion(name, number);
    if (!version) throw notFound('VERSION_NOT_FOUND', `model "${name}" has no version ${number}`);
    return version;
  }

  /** The global sequence bump and the chained audit entry that go with every mutation. */
  private sequenceWrites(
    seq: number,
    at: string,
    actor: Actor,
    action: string,
    target: string,
    details: Record<string, unknown>,
  ): Write[] {
    const head = (this.meta.get('audit-head') as AuditHead | undefined) ?? { seq: 0, hash: GENESIS_HASH };
    const unsealed = { seq, at, actor: { id: actor.id, name: actor.name }, action, target, details, prevHash: head.hash };
    const entry: AuditEntry = { ...unsealed, hash: auditHash(unsealed) };
    return [
      { db: this.meta, key: 'seq', value: seq },
      { db: this.meta, key: 'audit-head', value: { seq, hash: entry.hash } satisfies AuditHead },
      { db: this.audit, key: seq, value: entry },
    ];
  }

  /** Runs `plan` (reads and checks, may throw) and applies its writes atomically in one transaction. */
  private mutate<R>(plan: () => Plan<R>): Promise<R> {
    return this.root.transaction(() => {
      const { result, writes } = plan();
      for (const w of writes) {
        if (w.value === undefined) w.db.remove(w.key);
        else w.db.put(w.key, w.value);
      }
      return result;
    }) as Promise<R>;
  }
}

function uniqueDigests(files: readonly { digest: string }[]): string[] {
  return [...new Set(files.map((f) => f.digest))];
}
