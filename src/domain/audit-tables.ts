// The second half of `audit verify`: the tables the service answers from (alias history and
// pointers, approvals, version records and their history, tokens) must say what the chained log
// says. The chain alone proves the log was not rewritten; it says nothing about a row edited
// beside it (an alias event's `to: 1` turned into `to: 3` in LMDB or Redis). So the log is
// replayed into the state it implies and every table row is compared with it, both ways: a row
// that differs, a row the log never wrote, and a log entry whose row is gone.
import { auditSteps } from './audit-steps.js';
import { createHash } from 'node:crypto';
import { CHECKPOINT_ACTION } from './checkpoint.js';
import { fieldDigest, recordDigest } from './record-digest.js';
import type { RegistryReader } from './state.js';
import type { AuditEntry, Version } from './types.js';
import { componentNames, stackDigest } from './stack.js';

export interface TableMismatch {
  /** The log entry where table and log part (the entry that wrote, or should have written, the row). */
  seq: number;
  table: 'aliasEvents' | 'aliases' | 'approvals' | 'versions' | 'versionEvents' | 'tokens' | 'checkpoint' | 'webhooks' | 'signatures';
  key: string;
  reason: string;
}

export interface TableCheck {
  ok: boolean;
  /** Table rows compared with the log. */
  rows: number;
  /** The earliest mismatches by sequence (at most `limit`). */
  mismatches: TableMismatch[];
  /** How many mismatches there were in all. */
  total: number;
}

const BATCH = 10_000;
const MODEL_PAGE = 1000;

/** The sha256 of a webhook signing secret: lets the log pin the secrets without carrying them. */
export function webhookSecretDigest(secret: string): string {
  return `sha256:${createHash('sha256').update(secret).digest('hex')}`;
}

/** The sha256 of a token's stored secret hash: lets the log pin the row without carrying the hash itself. */
export function tokenHashDigest(hash: string): string {
  return `sha256:${createHash('sha256').update(hash).digest('hex')}`;
}

interface ExpectedAliasEvent {
  seq: number;
  fields: Record<string, unknown>;
}

interface ExpectedVersion {
  /** Last entry that changed the row. */
  seq: number;
  digest: string | undefined;
  recordDigest: string | undefined;
  status: string;
  deleted: boolean;
  protectedAliases: Set<string>;
  /** A stack's components as registered: name → version digest. */
  components?: Record<string, string>;
}

interface ExpectedToken {
  seq: number;
  fields: Record<string, unknown>;
}

/** What the log says the tables hold. */
class Projection {
  readonly aliasEvents = new Map<string, ExpectedAliasEvent>();
  /** [name, alias] → where the alias points after the last move (null: deleted). */
  readonly aliasPointers = new Map<string, { seq: number; to: number | null }>();
  readonly approvals = new Map<string, { seq: number; fields: Record<string, unknown> }>();
  readonly versions = new Map<string, ExpectedVersion>();
  readonly versionEvents = new Map<string, { seq: number; fields: Record<string, unknown> }>();
  readonly tokens = new Map<string, ExpectedToken>();
  /** Webhook id → where it sends, what, and the digests of the secrets the log issued it. */
  readonly webhooks = new Map<string, { seq: number; fields: Record<string, unknown>; secretDigests: string[] }>();
  /** [name, version, signature id] → the signature the log attached. */
  readonly signatures = new Map<string, { seq: number; fields: Record<string, unknown> }>();
  readonly models = new Set<string>();
  /** The last `audit.checkpoint` entry: what the last-checkpoint record (which the schedule reads) must say. */
  lastCheckpoint: { entrySeq: number; details: Record<string, unknown> } | null = null;

  add(e: AuditEntry): void {
    const d = e.details;
    const actor = { id: e.actor.id, name: e.actor.name };
    if (e.action === CHECKPOINT_ACTION) {
      this.lastCheckpoint = { entrySeq: e.seq, details: d };
      return;
    }
    if (e.action.startsWith('alias.')) {
      const ref = splitRef(e.target);
      if (!ref) return;
      this.models.add(ref.name);
      const fields: Record<string, unknown> = {
        action: e.action.slice('alias.'.length),
        from: d.from ?? null,
        to: d.to ?? null,
        actor,
        at: e.at,
        reason: d.reason,
        recordDigest: d.recordDigest,
      };
      this.aliasEvents.set(key(ref.name, ref.rest, e.seq), { seq: e.seq, fields });
      this.aliasPointers.set(key(ref.name, ref.rest), { seq: e.seq, to: (d.to as number | null) ?? null });
      const to = d.to as number | null;
      if (d.protected === true && typeof to === 'number') this.version(ref.name, to, e.seq, false)?.protectedAliases.add(ref.rest);
      return;
    }
    if (e.action.startsWith('token.')) {
      const id = e.target.startsWith('token:') ? e.target.slice('token:'.length) : null;
      if (!id) return;
      if (e.action === 'token.create') {
        const fields: Record<string, unknown> = {
          name: d.name,
          role: d.role,
          scope: d.scope,
          expiresAt: d.expiresAt ?? null,
          revokedAt: null,
        };
        if (typeof d.hashDigest === 'string') fields.hashDigest = d.hashDigest;
        this.tokens.set(id, { seq: e.seq, fields });
      } else if (e.action === 'token.revoke') {
        const token = this.tokens.get(id);
        if (token) this.tokens.set(id, { seq: e.seq, fields: { ...token.fields, revokedAt: e.at } });
      }
      return;
    }
    if (e.action.startsWith('webhook.')) {
      const id = e.target.startsWith('webhook:') ? e.target.slice('webhook:'.length) : null;
      if (!id) return;
      const digest = typeof d.secretDigest === 'string' ? [d.secretDigest] : [];
      if (e.action === 'webhook.create') {
        this.webhooks.set(id, { seq: e.seq, fields: { url: d.url, events: d.events, scope: d.scope }, secretDigests: digest });
      } else if (e.action === 'webhook.rotate') {
        const hook = this.webhooks.get(id);
        if (hook) this.webhooks.set(id, { ...hook, seq: e.seq, secretDigests: [...hook.secretDigests, ...digest] });
      } else if (e.action === 'webhook.delete') this.webhooks.delete(id);
      return;
    }
    if (!e.action.startsWith('version.')) return;
    const ref = splitRef(e.target);
    const number = ref && /^v([0-9]+)$/.exec(ref.rest);
    if (!ref || !number) return;
    const name = ref.name;
    const n = Number(number[1]);
    this.models.add(name);
    const eventKey = key(name, n, e.seq);
    switch (e.action) {
      case 'version.register': {
        this.versions.set(key(name, n), {
          seq: e.seq,
          digest: d.digest as string,
          recordDigest: d.recordDigest as string | undefined,
          status: 'registered',
          deleted: false,
          protectedAliases: new Set(),
          components: d.components as Record<string, string> | undefined,
        });
        this.versionEvents.set(eventKey, { seq: e.seq, fields: { action: 'register', actor, at: e.at } });
        return;
      }
      case 'version.update': {
        const v = this.version(name, n, e.seq);
        const rd = d.recordDigest as { after?: string } | undefined;
        const status = d.status as { after?: string } | undefined;
        if (v) {
          if (rd?.after) v.recordDigest = rd.after;
          if (status?.after) v.status = status.after;
        }
        this.versionEvents.set(eventKey, {
          seq: e.seq,
          fields: { action: 'update', actor, at: e.at, changes: d.changes ?? {}, status: d.status },
        });
        return;
      }
      case 'version.approve':
      case 'version.reject': {
        const decision = e.action === 'version.approve' ? 'approve' : 'reject';
        const v = this.version(name, n, e.seq);
        if (v && typeof d.status === 'string') v.status = d.status;
        this.approvals.set(eventKey, {
          seq: e.seq,
          fields: { decision, approver: actor, at: e.at, comment: d.comment, recordDigest: d.recordDigest },
        });
        this.versionEvents.set(eventKey, { seq: e.seq, fields: { action: decision, actor, at: e.at, comment: d.comment } });
        return;
      }
      case 'version.retire': {
        const v = this.version(name, n, e.seq);
        if (v) v.status = 'retired';
        this.versionEvents.set(eventKey, { seq: e.seq, fields: { action: 'retire', actor, at: e.at, comment: d.reason } });
        return;
      }
      case 'version.component-flagged': {
        this.versionEvents.set(eventKey, {
          seq: e.seq,
          fields: { action: 'component', actor, at: e.at, comment: `component ${d.component} (${d.ref}) is ${d.status}` },
        });
        return;
      }
      case 'version.delete': {
        const v = this.version(name, n, e.seq);
        if (v) v.deleted = true;
        return;
      }
      case 'version.sign': {
        this.signatures.set(key(name, n, d.signature as string), {
          seq: e.seq,
          fields: { keyId: d.keyId, rootDigest: d.rootDigest },
        });
        return;
      }
    }
  }

  /** The expected row of a version, marking `seq` as the last entry that touched it. */
  private version(name: string, n: number, seq: number, touch = true): ExpectedVersion | undefined {
    const v = this.versions.get(key(name, n));
    if (v && touch) v.seq = seq;
    return v;
  }
}

/** Replays the log and compares every table row with what it implies. */
export function checkTablesAgainstLog(state: RegistryReader, limit = 100): TableCheck {
  const log = new Projection();
  for (let from = 1; ; ) {
    const batch = state.auditEntries(from, BATCH);
    if (batch.length === 0) break;
    for (const e of batch) for (const step of auditSteps(e)) log.add(step);
    from = batch[batch.length - 1]!.seq + 1;
  }

  const mismatches: TableMismatch[] = [];
  let rows = 0;
  const report = (m: TableMismatch) => mismatches.push(m);

  const models = new Set(log.models);
  for (let cursor: string | undefined; ; ) {
    const page = state.listModels({ cursor, limit: MODEL_PAGE });
    for (const m of page.items) models.add(m.name);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }

  // Alias history and pointers.
  const seenAliasEvents = new Set<string>();
  for (const name of models) {
    for (const row of state.modelAliasEvents(name)) {
      rows++;
      const k = key(name, row.alias, row.seq);
      seenAliasEvents.add(k);
      const expected = log.aliasEvents.get(k);
      if (!expected) {
        report({
          seq: row.seq,
          table: 'aliasEvents',
          key: k,
          reason: `alias history row ${name}@${row.alias} at seq ${row.seq} is not in the log`,
        });
        continue;
      }
      const diff = differences(expected.fields, { ...row, actor: { id: row.actor.id, name: row.actor.name } });
      if (diff) report({ seq: row.seq, table: 'aliasEvents', key: k, reason: `alias history row ${name}@${row.alias} ${diff}` });
    }
    const pointers = new Map(state.listAliases(name).map((p) => [p.alias, p]));
    for (const [alias, pointer] of pointers) {
      rows++;
      const expected = log.aliasPointers.get(key(name, alias));
      const k = key(name, alias);
      if (!expected || expected.to === null) {
        report({
          seq: expected?.seq ?? pointer.seq,
          table: 'aliases',
          key: k,
          reason: `${name}@${alias} points at v${pointer.version} but the log ${expected ? 'deleted it' : 'never set it'}`,
        });
      } else if (pointer.version !== expected.to || pointer.seq !== expected.seq) {
        report({
          seq: expected.seq,
          table: 'aliases',
          key: k,
          reason: `${name}@${alias} points at v${pointer.version} (seq ${pointer.seq}) but the log has v${expected.to} (seq ${expected.seq})`,
        });
      }
    }
    for (const [k, expected] of log.aliasPointers) {
      const [model, alias] = JSON.parse(k) as [string, string];
      if (model === name && expected.to !== null && !pointers.has(alias)) {
        report({
          seq: expected.seq,
          table: 'aliases',
          key: k,
          reason: `${name}@${alias} is missing; the log points it at v${expected.to}`,
        });
      }
    }
  }
  for (const [k, expected] of log.aliasEvents) {
    if (!seenAliasEvents.has(k))
      report({ seq: expected.seq, table: 'aliasEvents', key: k, reason: 'the log has this alias move but alias history lacks it' });
  }

  // Versions, their approvals and their history.
  const versionKeys = new Set(log.versions.keys());
  const stored = new Map<string, Version>();
  for (const v of state.allVersions()) {
    const k = key(v.name, v.version);
    stored.set(k, v);
    versionKeys.add(k);
  }
  const seenApprovals = new Set<string>();
  const seenEvents = new Set<string>();
  for (const k of versionKeys) {
    const [name, n] = JSON.parse(k) as [string, number];
    const row = stored.get(k);
    const expected = log.versions.get(k);
    if (row) {
      rows++;
      const problem = versionProblem(row, expected);
      if (problem) report({ seq: expected?.seq ?? row.seq, table: 'versions', key: k, reason: `${name}@v${n}: ${problem}` });
    } else if (expected && !expected.deleted) {
      report({ seq: expected.seq, table: 'versions', key: k, reason: `${name}@v${n} is missing; the log never deleted it` });
    }
    for (const a of state.listApprovals(name, n)) {
      rows++;
      const ak = key(name, n, a.seq);
      seenApprovals.add(ak);
      const exp = log.approvals.get(ak);
      if (!exp) {
        report({ seq: a.seq, table: 'approvals', key: ak, reason: `approval of ${name}@v${n} at seq ${a.seq} is not in the log` });
        continue;
      }
      const diff = differences(exp.fields, { ...a, approver: { id: a.approver.id, name: a.approver.name } });
      if (diff) report({ seq: a.seq, table: 'approvals', key: ak, reason: `approval of ${name}@v${n} ${diff}` });
    }
    for (const e of state.versionHistory(name, n)) {
      rows++;
      const ek = key(name, n, e.seq);
      seenEvents.add(ek);
      const exp = log.versionEvents.get(ek);
      if (!exp) {
        report({ seq: e.seq, table: 'versionEvents', key: ek, reason: `history row of ${name}@v${n} at seq ${e.seq} is not in the log` });
        continue;
      }
      const diff = eventDifferences(exp.fields, e);
      if (diff) report({ seq: e.seq, table: 'versionEvents', key: ek, reason: `history row of ${name}@v${n} ${diff}` });
    }
  }
  for (const [k, exp] of log.approvals) {
    if (!seenApprovals.has(k))
      report({ seq: exp.seq, table: 'approvals', key: k, reason: 'the log has this decision but the approvals table lacks it' });
  }
  for (const [k, exp] of log.versionEvents) {
    if (!seenEvents.has(k))
      report({ seq: exp.seq, table: 'versionEvents', key: k, reason: 'the log has this change but version history lacks it' });
  }

  // The last checkpoint record: a forged one would stop the schedule (it looks as if the head were signed).
  const storedCheckpoint = state.lastCheckpoint();
  const logged = log.lastCheckpoint;
  if (storedCheckpoint || logged) {
    const stored = storedCheckpoint;
    rows++;
    const same =
      stored !== undefined &&
      logged !== null &&
      stored.entrySeq === logged.entrySeq &&
      JSON.stringify(stored.checkpoint) === JSON.stringify(logged.details);
    if (!same) {
      report({
        seq: logged?.entrySeq ?? stored?.entrySeq ?? 0,
        table: 'checkpoint',
        key: 'last-checkpoint',
        reason: logged
          ? `the last-checkpoint record ${stored ? `names entry ${stored.entrySeq}` : 'is missing'}; the log's last checkpoint is entry ${logged.entrySeq}`
          : `a last-checkpoint record (entry ${stored!.entrySeq}) the log never wrote`,
      });
    }
  }

  // Tokens: who may do what.
  const tokenRows = new Map(state.listTokens().map((t) => [t.id, t]));
  for (const [id, t] of tokenRows) {
    rows++;
    const exp = log.tokens.get(id);
    if (!exp) {
      report({ seq: 0, table: 'tokens', key: id, reason: `token ${id} (${t.name}, ${t.role}) is not in the log` });
      continue;
    }
    const actual: Record<string, unknown> = { name: t.name, role: t.role, scope: t.scope, expiresAt: t.expiresAt, revokedAt: t.revokedAt };
    if ('hashDigest' in exp.fields) actual.hashDigest = tokenHashDigest(t.hash);
    const diff = differences(exp.fields, actual);
    if (diff) report({ seq: exp.seq, table: 'tokens', key: id, reason: `token ${id} ${diff}` });
  }
  for (const [id, exp] of log.tokens) {
    if (!tokenRows.has(id)) report({ seq: exp.seq, table: 'tokens', key: id, reason: `token ${id} is missing; the log created it` });
  }

  // Webhooks: where registry events go, and who can sign as the registry.
  const hookRows = new Map(state.listWebhooks().map((w) => [w.id, w]));
  for (const [id, w] of hookRows) {
    rows++;
    const exp = log.webhooks.get(id);
    if (!exp) {
      report({ seq: 0, table: 'webhooks', key: id, reason: `webhook ${id} (${w.url}) is not in the log` });
      continue;
    }
    const diff = differences(exp.fields, w);
    if (diff) {
      report({ seq: exp.seq, table: 'webhooks', key: id, reason: `webhook ${id} ${diff}` });
      continue;
    }
    const foreign = w.secrets.find((x) => !exp.secretDigests.includes(webhookSecretDigest(x.secret)));
    if (foreign && exp.secretDigests.length > 0) {
      report({ seq: exp.seq, table: 'webhooks', key: id, reason: `webhook ${id} signs with a secret the log never issued` });
    }
  }
  for (const [id, exp] of log.webhooks) {
    if (!hookRows.has(id)) report({ seq: exp.seq, table: 'webhooks', key: id, reason: `webhook ${id} is missing; the log created it` });
  }

  // Model signatures: the evidence a policy may require.
  const seenSignatures = new Set<string>();
  for (const name of models) {
    for (let cursor: number | undefined; ; ) {
      const page = state.listVersions(name, cursor, MODEL_PAGE);
      for (const v of page.items) {
        for (const sig of state.listSignatures(name, v.version)) {
          rows++;
          const sk = key(name, v.version, sig.id);
          seenSignatures.add(sk);
          const exp = log.signatures.get(sk);
          if (!exp) {
            report({ seq: 0, table: 'signatures', key: sk, reason: `signature ${sig.id} of ${name}@v${v.version} is not in the log` });
            continue;
          }
          const diff = differences(exp.fields, sig);
          if (diff) report({ seq: exp.seq, table: 'signatures', key: sk, reason: `signature of ${name}@v${v.version} ${diff}` });
        }
      }
      if (!page.nextCursor) break;
      cursor = Number(page.nextCursor);
    }
  }
  for (const [k, exp] of log.signatures) {
    if (!seenSignatures.has(k))
      report({ seq: exp.seq, table: 'signatures', key: k, reason: 'the log attached this signature but the table lacks it' });
  }

  mismatches.sort((a, b) => a.seq - b.seq);
  return { ok: mismatches.length === 0, rows, mismatches: mismatches.slice(0, limit), total: mismatches.length };
}

function versionProblem(row: Version, expected: ExpectedVersion | undefined): string | null {
  if (!expected) return 'the log never registered it';
  if (expected.deleted) return 'the log deleted it, yet it is present';
  if (expected.digest !== undefined && row.digest !== expected.digest)
    return `digest is ${row.digest}, the log registered ${expected.digest}`;
  const files = stackDigest(row.files, row.components);
  if (files !== row.digest)
    return `its file list${row.components ? ' and components hash' : ' hashes'} to ${files}, not its digest ${row.digest}`;
  // A stack's components as the log registered them (name → version digest).
  const pinned = row.components ? Object.fromEntries(componentNames(row).map((c) => [c, row.components![c]!.digest])) : undefined;
  if (JSON.stringify(pinned ?? null) !== JSON.stringify(expected.components ?? null))
    return 'its components differ from the ones the log registered';
  if (expected.recordDigest !== undefined) {
    const actual = recordDigest(row);
    if (actual !== expected.recordDigest) return `its record hashes to ${actual}, the log's last record is ${expected.recordDigest}`;
    if (row.recordDigest !== undefined && row.recordDigest !== expected.recordDigest)
      return `its stored record digest is ${row.recordDigest}, the log's last record is ${expected.recordDigest}`;
  }
  if (row.status !== expected.status) return `status is ${row.status}, the log says ${expected.status}`;
  const lost = [...expected.protectedAliases].filter((a) => !row.protectedAliases.includes(a));
  if (lost.length > 0) return `no longer lists protected alias(es) ${lost.join(', ')} it held (retention evidence)`;
  return null;
}

/** "field: table X, log Y" for the first field that differs; null when they agree. */
function differences(expected: Record<string, unknown>, actual: object): string | null {
  const row = actual as Record<string, unknown>;
  for (const [field, want] of Object.entries(expected)) {
    const have = row[field];
    if (want === undefined && have === undefined) continue;
    if (JSON.stringify(have ?? null) !== JSON.stringify(want ?? null)) {
      return `${field} is ${JSON.stringify(have ?? null)} in the table but ${JSON.stringify(want ?? null)} in the log`;
    }
  }
  return null;
}

/** A version history row against its log entry; an update row's before/after values are checked against the logged digests. */
function eventDifferences(
  expected: Record<string, unknown>,
  row: {
    action: string;
    actor: { id: string; name: string };
    at: string;
    comment?: string;
    changes?: Record<string, { before: unknown; after: unknown }>;
  },
): string | null {
  const { changes: loggedChanges, status: loggedStatus, ...plain } = expected;
  const diff = differences(plain, {
    action: row.action,
    actor: { id: row.actor.id, name: row.actor.name },
    at: row.at,
    comment: row.comment,
  });
  if (diff) return diff;
  if (row.action !== 'update') return null;
  const logged = (loggedChanges ?? {}) as Record<string, { before: string; after: string }>;
  const changes = row.changes ?? {};
  for (const field of new Set([...Object.keys(logged), ...Object.keys(changes).filter((f) => f !== 'status')])) {
    const want = logged[field];
    const have = changes[field];
    if (!want || !have) return `change of ${field} is ${have ? 'in the table only' : 'in the log only'}`;
    if (fieldDigest(have.before) !== want.before || fieldDigest(have.after) !== want.after) {
      return `change of ${field} does not hash to the digests the log holds`;
    }
  }
  const status = loggedStatus as { before: string; after: string } | undefined;
  if (JSON.stringify(changes.status ?? null) !== JSON.stringify(status ?? null)) return 'status change differs from the log';
  return null;
}

function key(...parts: (string | number)[]): string {
  return JSON.stringify(parts);
}

/** `name@rest` split at the last `@` (model names have none; the part after it is an alias or vN). */
function splitRef(target: string): { name: string; rest: string } | null {
  const at = target.lastIndexOf('@');
  if (at <= 0) return null;
  return { name: target.slice(0, at), rest: target.slice(at + 1) };
}
