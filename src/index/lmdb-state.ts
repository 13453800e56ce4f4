// The registry's tables in one LMDB environment: synchronous, memory-mapped reads, and the
// application of a write list. Used as the embedded authority and as each node's replica.
import { open, type Database, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GENESIS_HASH } from '../domain/audit-chain.js';
import type { Checkpoint } from '../domain/checkpoint.js';
import type {
  AliasEvent,
  AliasPointer,
  Approval,
  AuditEntry,
  ManifestRecord,
  Model,
  Page,
  TokenRecord,
  Version,
  VersionEvent,
} from '../domain/types.js';
import type { ListModelsQuery, RegistryReader } from '../domain/state.js';
import type { OutboxEntry, WebhookEndpoint } from '../domain/webhooks.js';
import type { SignatureRecord } from '../domain/model-signing.js';
import type { LocalTable } from './local-table.js';
import { TABLES, type Key, type Table, type Write } from '../domain/writes.js';
import { RowMemo } from './row-memo.js';

const MAX = Number.MAX_SAFE_INTEGER;
/** The tables whose rows are memoized once decoded (meta: the sequence, audit head and last checkpoint; settings are read apart). */
const MEMO_TABLES: readonly Table[] = ['versions', 'meta', 'aliases'];
/**
 * Of those, the tables whose written rows are memoized from the write once it commits (see
 * row-memo.ts): every change writes the sequence and audit head, an alias move its pointer, and
 * each is read again right after. Versions are not: a plan may hand a version it writes to its
 * caller, which must not find it frozen.
 */
const KEPT_FROM_WRITES: readonly Table[] = ['meta', 'aliases'];

/** LMDB sub-database names; kept from before the tables had logical names, so existing data opens. */
const DB_NAMES: Record<Table, string> = {
  meta: 'meta',
  models: 'models',
  versions: 'versions',
  versionDigests: 'version-digests',
  versionEvents: 'version-events',
  approvals: 'approvals',
  aliases: 'aliases',
  aliasEvents: 'alias-events',
  blobRefs: 'blob-refs',
  tokens: 'tokens',
  audit: 'audit',
  manifests: 'manifests',
  componentRefs: 'component-refs',
  lineageRefs: 'lineage-refs',
  datasetRefs: 'dataset-refs',
  webhooks: 'webhooks',
  outbox: 'webhook-outbox',
  signatures: 'signatures',
};

export class LmdbState implements RegistryReader {
  private readonly root: RootDatabase<unknown, Key>;
  // Each table holds its own record type; get/put are typed per call.
  private readonly dbs: Record<Table, Database<unknown, Key>>;
  /**
   * Decoded rows of the tables every change reads again on every node (the version an alias
   * points at for its watch message and its resolve, the alias pointer, the sequence and audit
   * head): decoding a record is most of its read. Only `transaction`/`transactionSync` below write these
   * tables, which is what keeps the memo from answering what LMDB would not (see row-memo.ts).
   */
  private readonly memo = new RowMemo(MEMO_TABLES, KEPT_FROM_WRITES);

  /** `flush: false` opens it without fsync (noSync): only for a replica that can be copied again (RedisControlStore). */
  constructor(dataDir: string, options: { flush?: boolean } = {}) {
    const dir = join(dataDir, 'index');
    mkdirSync(dir, { recursive: true });
    this.root = open<unknown, Key>({ path: dir, maxDbs: 32, ...(options.flush === false ? { noSync: true } : {}) });
    this.dbs = Object.fromEntries(TABLES.map((t) => [t, this.root.openDB({ name: DB_NAMES[t] })])) as Record<Table, Database<unknown, Key>>;
  }

  private get<T>(table: Table, key: Key): T | undefined {
    return this.memo.read(table, key, () => this.dbs[table].get(key)) as T | undefined;
  }

  /**
   * Runs `work` in an asynchronous write transaction (committed by LMDB's write thread, with
   * fsync unless opened with `flush: false`); the only way, with transactionSync, to `apply`.
   */
  async transaction<T>(work: () => T): Promise<T> {
    const done = this.memo.writing();
    let committed = false;
    try {
      const result = (await this.root.transaction(work)) as T;
      committed = true;
      return result;
    } finally {
      done(committed);
    }
  }

  /** Runs `work` in a write transaction committed before this returns. */
  transactionSync<T>(work: () => T): T {
    const done = this.memo.writing();
    let committed = false;
    try {
      const result = this.root.transactionSync(work) as T;
      committed = true;
      return result;
    } finally {
      done(committed);
    }
  }

  private range<T>(table: Table, start: Key, end: Key, limit?: number): T[] {
    return [...this.dbs[table].getRange({ start, end, ...(limit !== undefined ? { limit } : {}) }).map((e) => e.value as T)];
  }

  /** Applies writes; must run inside `transaction` or `transactionSync` (see LmdbControlStore). */
  apply(writes: readonly Write[]): void {
    for (const w of writes) {
      this.memo.written(w.table, w.key, w.value);
      if (w.value === undefined) this.dbs[w.table].remove(w.key);
      else this.dbs[w.table].put(w.key, w.value);
    }
  }

  /** Opens a sub-database in the same environment, for node-local state such as upload sessions. */
  openLocalTable<V>(name: string): LocalTable<V> {
    const db = this.root.openDB<V, string>({ name });
    return {
      get: (key) => db.get(key),
      put: (key, value) => db.put(key, value),
      remove: (key) => db.remove(key),
      entries: () => db.getRange({}),
    };
  }

  getLocal(key: string): unknown {
    return this.dbs.meta.get(`setting:${key}`);
  }

  async putLocal(key: string, value: unknown): Promise<void> {
    await this.dbs.meta.put(`setting:${key}`, value);
  }

  currentSeq(): number {
    return this.get<number>('meta', 'seq') ?? 0;
  }

  auditHead(): { seq: number; hash: string } {
    return this.get<{ seq: number; hash: string }>('meta', 'audit-head') ?? { seq: 0, hash: GENESIS_HASH };
  }

  lastCheckpoint(): { entrySeq: number; checkpoint: Checkpoint } | undefined {
    return this.get('meta', 'last-checkpoint');
  }

  getModel(name: string): Model | undefined {
    return this.get('models', name);
  }

  getVersion(name: string, version: number): Version | undefined {
    return this.get('versions', [name, version]);
  }

  getVersionByDigest(name: string, digest: string): Version | undefined {
    const n = this.get<number>('versionDigests', [name, digest]);
    return n === undefined ? undefined : this.getVersion(name, n);
  }

  getVersionByDigestPrefix(name: string, hexPrefix: string): Version | undefined {
    const start = `sha256:${hexPrefix}`;
    for (const { key, value } of this.dbs.versionDigests.getRange({ start: [name, start], end: [name, `${start}\uffff`], limit: 1 })) {
      const digest = (key as [string, string])[1];
      if (digest.startsWith(start)) return this.getVersion(name, value as number);
    }
    return undefined;
  }

  getManifest(name: string, digest: string): ManifestRecord | undefined {
    return this.get('manifests', [name, digest]);
  }

  listManifests(name: string): ManifestRecord[] {
    return this.range('manifests', [name, ''], [name, '\uffff']);
  }

  getAlias(name: string, alias: string): AliasPointer | undefined {
    return this.get('aliases', [name, alias]);
  }

  listAliases(name: string): AliasPointer[] {
    return this.range('aliases', [name, ''], [name, '\uffff']);
  }

  listModels(query: ListModelsQuery): Page<Model> {
    const prefix = query.prefix ?? '';
    const start = query.cursor && query.cursor >= prefix ? query.cursor + '\u0000' : prefix;
    const items: Model[] = [];
    let more = false;
    for (const { value } of this.dbs.models.getRange({ start, end: prefix + '\uffff' })) {
      const model = value as Model;
      if (query.filter && !query.filter(model)) continue;
      if (items.length === query.limit) {
        more = true;
        break;
      }
      items.push(model);
    }
    return { items, nextCursor: more ? items[items.length - 1]!.name : null };
  }

  listVersions(name: string, cursor: number | undefined, limit: number): Page<Version> {
    const items = this.range<Version>('versions', [name, (cursor ?? 0) + 1], [name, MAX], limit + 1);
    const more = items.length > limit;
    if (more) items.pop();
    return { items, nextCursor: more ? String(items[items.length - 1]!.version) : null };
  }

  *allVersions(): Iterable<Version> {
    for (const { value } of this.dbs.versions.getRange({})) yield value as Version;
  }

  aliasHistory(name: string, alias: string): AliasEvent[] {
    return this.range('aliasEvents', [name, alias, 0], [name, alias, MAX]);
  }

  aliasEventsNewestFirst(name: string, alias: string): Iterable<AliasEvent> {
    return this.dbs.aliasEvents
      .getRange({ start: [name, alias, MAX], end: [name, alias, 0], reverse: true })
      .map((e) => e.value as AliasEvent);
  }

  modelAliasEvents(name: string): AliasEvent[] {
    return this.range('aliasEvents', [name, ''], [name, '\uffff']);
  }

  listApprovals(name: string, version: number): Approval[] {
    return this.range('approvals', [name, version, 0], [name, version, MAX]);
  }

  versionHistory(name: string, version: number): VersionEvent[] {
    return this.range('versionEvents', [name, version, 0], [name, version, MAX]);
  }

  getToken(id: string): TokenRecord | undefined {
    return this.get('tokens', id);
  }

  listTokens(): TokenRecord[] {
    return [...this.dbs.tokens.getRange({}).map((e) => e.value as TokenRecord)];
  }

  isBlobReferenced(digest: string): boolean {
    for (const _ of this.dbs.blobRefs.getKeys({ start: [digest, ''], end: [digest, '\uffff'], limit: 1 })) return true;
    return false;
  }

  blobReferences(digest: string): { name: string; version: number }[] {
    return [...this.dbs.blobRefs.getKeys({ start: [digest, ''], end: [digest, '\uffff'] })].map((k) => {
      const [, name, version] = k as [string, string, number];
      return { name, version };
    });
  }

  stacksContaining(name: string, version: number): { name: string; version: number; component: string }[] {
    return [...this.dbs.componentRefs.getRange({ start: [name, version, ''], end: [name, version, '\uffff'] })].map(({ key, value }) => {
      const [, , stack, stackVersion] = key as [string, number, string, number];
      return { name: stack, version: stackVersion, component: value as string };
    });
  }

  lineageChildren(name: string, version: number): { name: string; version: number }[] {
    return [...this.dbs.lineageRefs.getKeys({ start: [name, version, ''], end: [name, version, '\uffff'] })].map((k) => {
      const [, , child, childVersion] = k as [string, number, string, number];
      return { name: child, version: childVersion };
    });
  }

  datasetReferences(key: string): { name: string; version: number }[] {
    return [...this.dbs.datasetRefs.getKeys({ start: [key, ''], end: [key, '\uffff'] })].map((k) => {
      const [, name, version] = k as [string, string, number];
      return { name, version };
    });
  }

  /** Every row of a replicated table (the meta table without this node's own settings). */
  *tableRows(table: Table): Iterable<{ key: Key; value: unknown }> {
    for (const { key, value } of this.dbs[table].getRange({})) {
      if (table === 'meta' && typeof key === 'string' && key.startsWith('setting:')) continue;
      yield { key, value };
    }
  }

  /**
   * Replaces every replicated table with `rows` (a copy of the authority's), keeping this node's
   * own settings; must run inside `transaction` or `transactionSync`.
   */
  replaceTables(rows: Map<Table, { key: Key; value: unknown }[]>): void {
    this.memo.replaced();
    for (const table of TABLES) {
      for (const { key } of [...this.tableRows(table)]) this.dbs[table].remove(key);
      for (const { key, value } of rows.get(table) ?? []) this.dbs[table].put(key, value);
    }
  }

  listWebhooks(): WebhookEndpoint[] {
    return [...this.dbs.webhooks.getRange({}).map((e) => e.value as WebhookEndpoint)];
  }

  getWebhook(id: string): WebhookEndpoint | undefined {
    return this.get('webhooks', id);
  }

  listSignatures(name: string, version: number): SignatureRecord[] {
    return this.range('signatures', [name, version, ''], [name, version, '\uffff']);
  }

  outboxEntries(afterSeq: number, limit: number): OutboxEntry[] {
    return [...this.dbs.outbox.getRange({ start: afterSeq + 1, limit }).map((e) => e.value as OutboxEntry)];
  }

  outboxEntryAt(seq: number): OutboxEntry | undefined {
    return this.get('outbox', seq);
  }

  auditEntries(fromSeq: number, limit: number): AuditEntry[] {
    return [...this.dbs.audit.getRange({ start: fromSeq, limit }).map((e) => e.value as AuditEntry)];
  }

  close(): Promise<void> {
    return this.root.close();
  }
}
