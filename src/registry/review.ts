// Read models for people reviewing the registry (the console, and any client that wants them):
// where each version stands against every protected alias's gates, the versions still waiting
// for a decision across models, and an inventory row per model. The gate itself stays in
// domain/gate.ts; these only ask it.
import { badRequest } from '../domain/errors.js';
import type { RegistryReader } from '../domain/state.js';
import { moverRole } from '../domain/promotion-path.js';
import { aliasMoveUnmet, gateReads } from '../domain/gate.js';
import type { AliasPolicy, Unmet } from '../domain/policy.js';
import type { Approval, Model, Page, Version } from '../domain/types.js';

export interface PolicyRequirements {
  approvals: number;
  separationOfDuties: boolean;
  requiredCardFields: string[];
  metrics: string[];
  /** Earlier stages the version must first have held (any of), and for how long. */
  after: string[];
  soakSeconds: number;
  /** Who may move the alias. */
  moveRole: 'writer' | 'approver';
}

export interface AliasPolicyStatus {
  alias: string;
  requirements: PolicyRequirements;
  /** Every requirement the version does not meet for this alias; empty when it may be promoted. */
  unmet: Unmet[];
}

export interface PendingVersion {
  name: string;
  version: number;
  digest: string;
  status: Version['status'];
  createdAt: string;
  createdBy: string;
  card: Version['card'];
  metrics: Version['metrics'];
  approvals: Approval[];
  /** The newest earlier version of the model that was approved, to diff against; null if none. */
  previousApproved: number | null;
  policy: AliasPolicyStatus[];
}

export interface InventoryModel extends Model {
  aliases: Record<string, number>;
  /** The newest version's status and gate standing, or null when the model has no versions left. */
  latest: { version: number; status: Version['status']; policy: AliasPolicyStatus[] } | null;
}

function requirementsOf(policy: AliasPolicy): PolicyRequirements {
  return {
    approvals: policy.approvals,
    separationOfDuties: policy.separationOfDuties,
    requiredCardFields: [...policy.requiredCardFields],
    metrics: policy.metrics.map((m) => m.text),
    after: [...(policy.after ?? [])],
    soakSeconds: policy.soakSeconds ?? 0,
    moveRole: moverRole(policy) === 'approver' ? 'approver' : 'writer',
  };
}

export function policyStatus(store: RegistryReader, policies: Record<string, AliasPolicy>, version: Version): AliasPolicyStatus[] {
  const approvals = store.listApprovals(version.name, version.version);
  return Object.entries(policies).map(([alias, policy]) => ({
    alias,
    requirements: requirementsOf(policy),
    unmet: aliasMoveUnmet({
      policy,
      action: 'set',
      version,
      // The version's decisions are read once for every policy; a preview reads no rollback history.
      reads: { ...gateReads(store, alias, version, { history: false }), approvals: () => approvals },
    }),
  }));
}

/** The newest version below `version` whose status is approved. */
function previousApproved(store: RegistryReader, name: string, version: number): number | null {
  for (let n = version - 1; n >= 1; n--) {
    if (store.getVersion(name, n)?.status === 'approved') return n;
  }
  return null;
}

/**
 * Versions no one has approved or rejected yet (status `registered`), across every model
 * `visible` accepts, in (name, version) order. The cursor is the last row's `name@version`.
 */
export function pendingVersions(
  store: RegistryReader,
  policies: Record<string, AliasPolicy>,
  visible: (name: string) => boolean,
  cursor: string | undefined,
  limit: number,
): Page<PendingVersion> {
  const items: PendingVersion[] = [];
  const after = cursor === undefined ? null : parseCursor(cursor);
  for (const v of store.allVersions()) {
    if (after && (v.name < after.name || (v.name === after.name && v.version <= after.version))) continue;
    if (v.status !== 'registered' || !visible(v.name)) continue;
    if (items.length === limit) return { items, nextCursor: `${items.at(-1)!.name}@${items.at(-1)!.version}` };
    items.push({
      name: v.name,
      version: v.version,
      digest: v.digest,
      status: v.status,
      createdAt: v.createdAt,
      createdBy: v.createdBy,
      card: v.card,
      metrics: v.metrics,
      approvals: store.listApprovals(v.name, v.version),
      previousApproved: previousApproved(store, v.name, v.version),
      policy: policyStatus(store, policies, v),
    });
  }
  return { items, nextCursor: null };
}

export function inventoryRow(store: RegistryReader, policies: Record<string, AliasPolicy>, model: Model): InventoryModel {
  const aliases = Object.fromEntries(store.listAliases(model.name).map((a) => [a.alias, a.version]));
  const newest = latestExisting(store, model);
  return {
    ...model,
    aliases,
    latest: newest ? { version: newest.version, status: newest.status, policy: policyStatus(store, policies, newest) } : null,
  };
}

/** The newest version still registered (the latest number may have been deleted). */
function latestExisting(store: RegistryReader, model: Model): Version | undefined {
  for (let n = model.latestVersion; n >= 1; n--) {
    const v = store.getVersion(model.name, n);
    if (v) return v;
  }
  return undefined;
}

function parseCursor(cursor: string): { name: string; version: number } {
  const at = cursor.lastIndexOf('@');
  const version = Number(cursor.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(version) || version < 1)
    throw badRequest('CURSOR_INVALID', `invalid cursor "${cursor.slice(0, 80)}": expected name@version`);
  return { name: cursor.slice(0, at), version };
}
