// The inventory an AI-governance officer hands to an auditor: one row per model with its owner,
// the aliases and the versions they hold, statuses, approvals with approvers and dates, model-card
// completeness against the policy of each protected alias, a lineage summary and the last change.
// Built from registry state only; rendered as JSON or CSV (RFC 4180).
import type { AliasPolicy } from './policy.js';
import type { AliasEvent, Approval, Model, Version, VersionEvent } from './types.js';
import { CARD_FIELDS } from './types.js';

export interface InventoryAlias {
  alias: string;
  version: number;
  digest: string;
  status: Version['status'];
  since: string;
  protected: boolean;
  /** Required card fields (this alias's policy; for an unprotected alias, every protected alias's) the version lacks. */
  missingCardFields: string[];
  approvals: { decision: Approval['decision']; approver: string; at: string; onCurrentRecord: boolean }[];
  /** Verified model signatures attached to the version. */
  signatures: number;
}

export interface InventoryRow {
  name: string;
  owner: string;
  description: string;
  tags: string[];
  createdAt: string;
  versions: number;
  statuses: Partial<Record<Version['status'], number>>;
  latest: { version: number; status: Version['status']; createdAt: string; createdBy: string; cardFields: string[] } | null;
  aliases: InventoryAlias[];
  lineage: { datasets: string[]; parents: string[]; code: string[] };
  lastChange: { seq: number; at: string; action: string } | null;
}

export interface ModelFacts {
  model: Model;
  versions: Version[];
  aliases: { alias: string; version: number; updatedAt: string }[];
  approvals: (version: number) => Approval[];
  signatures: (version: number) => number;
  aliasEvents: AliasEvent[];
  versionEvents: (version: number) => VersionEvent[];
}

export function inventoryRow(facts: ModelFacts, policies: Record<string, AliasPolicy>): InventoryRow {
  const { model, versions } = facts;
  const byNumber = new Map(versions.map((v) => [v.version, v]));
  const protectedFields = [...new Set(Object.values(policies).flatMap((p) => p.requiredCardFields))];
  const statuses: InventoryRow['statuses'] = {};
  for (const v of versions) statuses[v.status] = (statuses[v.status] ?? 0) + 1;
  const latest = versions.at(-1);
  const aliases = facts.aliases.flatMap((a): InventoryAlias[] => {
    const v = byNumber.get(a.version);
    if (!v) return [];
    const policy = Object.hasOwn(policies, a.alias) ? policies[a.alias] : undefined;
    const required = policy ? policy.requiredCardFields : protectedFields;
    return [
      {
        alias: a.alias,
        version: v.version,
        digest: v.digest,
        status: v.status,
        since: a.updatedAt,
        protected: policy !== undefined,
        missingCardFields: required.filter((f) => !cardHas(v, f)),
        approvals: facts.approvals(v.version).map((ap) => ({
          decision: ap.decision,
          approver: ap.approver.name,
          at: ap.at,
          onCurrentRecord: ap.recordDigest === undefined || ap.recordDigest === v.recordDigest,
        })),
        signatures: facts.signatures(v.version),
      },
    ];
  });
  const described = aliases.length > 0 ? aliases.map((a) => byNumber.get(a.version)!) : latest ? [latest] : [];
  const lineage = {
    datasets: unique(described.flatMap((v) => (v.lineage.datasets ?? []).map((d) => d.name ?? d.uri ?? d.digest ?? ''))),
    parents: unique(described.flatMap((v) => (v.lineage.parent ? [v.lineage.parent] : []))),
    code: unique(described.flatMap((v) => (v.lineage.code ? [`${v.lineage.code.repo}@${v.lineage.code.commit}`] : []))),
  };
  let lastChange: InventoryRow['lastChange'] = null;
  const consider = (seq: number, at: string, action: string) => {
    if (!lastChange || seq > lastChange.seq) lastChange = { seq, at, action };
  };
  for (const e of facts.aliasEvents) consider(e.seq, e.at, `alias.${e.action} ${e.alias}`);
  for (const v of versions) for (const e of facts.versionEvents(v.version)) consider(e.seq, e.at, `version.${e.action} v${v.version}`);
  return {
    name: model.name,
    owner: model.owner,
    description: model.description,
    tags: model.tags,
    createdAt: model.createdAt,
    versions: versions.length,
    statuses,
    latest: latest
      ? {
          version: latest.version,
          status: latest.status,
          createdAt: latest.createdAt,
          createdBy: latest.createdBy,
          cardFields: CARD_FIELDS.filter((f) => cardHas(latest, f)),
        }
      : null,
    aliases,
    lineage,
    lastChange,
  };
}

function cardHas(v: Version, field: string): boolean {
  const value = (v.card as Record<string, unknown>)[field];
  return Array.isArray(value) ? value.length > 0 : typeof value === 'string' && value.trim() !== '';
}

function unique(items: string[]): string[] {
  return [...new Set(items.filter((i) => i !== ''))];
}

export const INVENTORY_CSV_COLUMNS = [
  'model',
  'owner',
  'description',
  'tags',
  'versions',
  'statuses',
  'latest_version',
  'latest_status',
  'aliases',
  'protected_aliases',
  'card_complete',
  'missing_card_fields',
  'approvals',
  'signed_aliases',
  'datasets',
  'parents',
  'code',
  'last_change_at',
  'last_change_seq',
  'last_change',
] as const;

/** One CSV line per model; lists inside a cell are joined with "; ". */
export function inventoryCsv(rows: readonly InventoryRow[]): string {
  const lines = [INVENTORY_CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const missing = r.aliases.filter((a) => a.missingCardFields.length > 0);
    const cells = [
      r.name,
      r.owner,
      r.description,
      r.tags.join('; '),
      String(r.versions),
      Object.entries(r.statuses)
        .map(([s, n]) => `${s}=${n}`)
        .join('; '),
      r.latest ? String(r.latest.version) : '',
      r.latest?.status ?? '',
      r.aliases.map((a) => `${a.alias}=v${a.version} (${a.status})`).join('; '),
      r.aliases
        .filter((a) => a.protected)
        .map((a) => a.alias)
        .join('; '),
      missing.length === 0 ? 'yes' : 'no',
      missing.map((a) => `${a.alias}: ${a.missingCardFields.join(' ')}`).join('; '),
      // Two aliases on one version share its approvals: list them once per version.
      [...new Map(r.aliases.map((a) => [a.version, a])).values()]
        .flatMap((a) => a.approvals.map((ap) => `v${a.version} ${ap.decision} by ${ap.approver} at ${ap.at}`))
        .join('; '),
      r.aliases
        .filter((a) => a.signatures > 0)
        .map((a) => a.alias)
        .join('; '),
      r.lineage.datasets.join('; '),
      r.lineage.parents.join('; '),
      r.lineage.code.join('; '),
      r.lastChange?.at ?? '',
      r.lastChange ? String(r.lastChange.seq) : '',
      r.lastChange?.action ?? '',
    ];
    lines.push(cells.map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * RFC 4180 quoting, and a leading quote on text a spreadsheet would run as a formula (= + - @),
 * since this file is meant to be opened in one.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
