// ControlStore on embedded LMDB. Mutations read and validate first and only then write, inside one
// lmdb-js `transaction`: that call commits asynchronously in a batch (the event loop never waits
// on fsync), but unlike `transactionSync` it does not roll back writes made before a throw, so no
// code that can throw runs after the first write.
import { open, type Database, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, notFound } from '../../errors.js';
import { auditHash, GENESIS_HASH } from '../../registry/audit-chain.js';
import type { Actor, AliasEvent, AliasPointer, AuditEntry, Change, Model, Page, Version } from '../../registry/types.js';
import type { AliasMove, AliasMoveResult, ControlStore, ListModelsQuery, NewVersion } from '../control-store.js';

type Key = string | number | (string | number)[];

interface Write {
  db: Database<unknown, Key>;
  key: Key;
  /** undefined removes the key. */
  value: unknown;
}

interface AuditHead {
  seq: number;
  hash: string;
}

const MAX_VERSION = Number.MAX_SAFE_INTEGER;

export class LmdbControlStore implements ControlStore {
  private readonly root: RootDatabase<unknown, Key>;
  private readonly meta: Database<unknown, Key>;
  private readonly models: Database<Model, Key>;
  private readonly versions: Database<Version, Key>;
  private readonly versionDigests: Database<number, Key>;
  private readonly aliases: Database<AliasPointer, Key>;
  private readonly aliasEvents: Database<AliasEvent, Key>;
  private readonly audit: Database<AuditEntry, Key>;

  constructor(dataDir: string) {
    const dir = join(dataDir, 'index');
    mkdirSync(dir, { recursive: true });
    this.root = open<unknown, Key>({ path: dir, maxDbs: 16 });
    this.meta = this.root.openDB({ name: 'meta' });
    this.models = this.root.openDB<Model, Key>({ name: 'models' });
    this.versions = this.root.openDB<Version, Key>({ name: 'versions' });
    this.versionDigests = this.root.openDB<number, Key>({ name: 'version-digests' });
    this.aliases = this.root.openDB<AliasPointer, Key>({ name: 'aliases' });
    this.aliasEvents = this.root.openDB<AliasEvent, Key>({ name: 'alias-events' });
    this.audit = this.root.openDB<AuditEntry, Key>({ name: 'audit' });
  }

  /** Opens a sub-database in the same environment, for node-local state such as upload sessions. */
  openTable<V>(name: string): Database<V, string> {
    return this.root.openDB<V, string>({ name });
  }

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
    const items = [
      ...this.models.getRange({ start, end: prefix + '\uffff', limit: query.limit + 1 }).map((e) => e.value),
    ];
    const more = items.length > query.limit;
    if (more) items.pop();
    return { items, nextCursor: more ? items[items.length - 1]!.name : null };
  }

  listVersions(name: string, cursor: number | undefined, limit: number): Page<Version> {
    const items = [
      ...this.versions
        .getRange({ start: [name, (cursor ?? 0) + 1], end: [name, MAX_VERSION], limit: limit + 1 })
        .map((e) => e.value),
    ];
    const more = items.length > limit;
    if (more) items.pop();
    return { items, nextCursor: more ? String(items[items.length - 1]!.version) : null };
  }

  aliasHistory(name: string, alias: string): AliasEvent[] {
    return [...this.aliasEvents.getRange({ start: [name, alias, 0], end: [name, alias, MAX_VERSION] }).map((e) => e.value)];
  }

  auditEntries(fromSeq: number, limit: number): AuditEntry[] {
    return [...this.audit.getRange({ start: fromSeq, limit }).map((e) => e.value)];
  }

  async registerVersion(
    input: NewVersion,
    actor: Actor,
  ): Promise<{ version: Version; created: boolean; change?: Change }> {
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
        metadata: input.metadata,
        createdAt: at,
        createdBy: actor.name,
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
      const writes: Write[] = [
        { db: this.models, key: input.name, value: nextModel },
        { db: this.versions, key: [input.name, number], value: version },
        { db: this.versionDigests, key: [input.name, input.digest], value: number },
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

  async updateVersionMetadata(
    name: string,
    number: number,
    metadata: Record<string, unknown>,
    actor: Actor,
  ): Promise<{ version: Version; change: Change }> {
    return this.mutate(() => {
      const current = this.getVersion(name, number);
      if (!current) throw notFound('VERSION_NOT_FOUND', `model "${name}" has no version ${number}`);
      const at = new Date().toISOString();
      const seq = this.currentSeq() + 1;
      const version: Version = { ...current, metadata, seq };
      const writes: Write[] = [
        { db: this.versions, key: [name, number], value: version },
        ...this.sequenceWrites(seq, at, actor, 'version.update', `${name}@v${number}`, {
          fields: ['metadata'],
        }),
      ];
      return { result: { version, change: { seq, model: name, kind: 'version', version: number } }, writes };
    });
  }

  async moveAlias(move: AliasMove, actor: Actor): Promise<{ result: AliasMoveResult; change?: Change }> {
    return this.mutate<{ result: AliasMoveResult; change?: Change }>(() => {
      const { name, alias } = move;
      if (!this.getModel(name)) throw notFound('MODEL_NOT_FOUND', `model "${name}" does not exist`);
      const current = this.getAlias(name, alias);
      const previous = current?.version ?? null;
      if (move.expected !== undefined && move.expected !== previous) {
        throw conflict(
          'ALIAS_CONFLICT',
          `${name}@${alias} points at ${previous === null ? 'nothing' : `v${previous}`}, not ${move.expected === null ? 'nothing' : `v${move.expected}`}`,
          { current: previous, expected: move.expected },
        );
      }
      if (move.to !== null && !this.getVersion(name, move.to)) {
        throw notFound('VERSION_NOT_FOUND', `model "${name}" has no version ${move.to}`);
      }
      if (move.to === null && !current) throw notFound('ALIAS_NOT_FOUND', `${name}@${alias} does not exist`);
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
      const result: AliasMoveResult = { name, alias, version: move.to, previous, seq, changed: true };
      return { result: { result, change: { seq, model: name, kind: 'alias', alias } }, writes };
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
  private mutate<R>(plan: () => { result: R; writes: Write[] }): Promise<R> {
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
