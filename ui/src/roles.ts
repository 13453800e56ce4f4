// What each role may do, for hiding controls the server would refuse. The server decides; this
// only keeps the console from offering what it will not allow.
import type { Role, WhoAmI } from './types';

const RANK: Record<Role, number> = { reader: 0, auditor: 0, writer: 1, approver: 2, admin: 3 };

function atLeast(me: WhoAmI, role: Role): boolean {
  return RANK[me.role] >= RANK[role];
}

export const can = {
  approve: (me: WhoAmI) => atLeast(me, 'approver'),
  /** Protected aliases need an approver; any other alias a writer. */
  moveAlias: (me: WhoAmI, alias: string) => atLeast(me, me.protectedAliases.includes(alias) ? 'approver' : 'writer'),
  /** Auditors, approvers and admins read the audit log (cut to their scope by the server). */
  readAudit: (me: WhoAmI) => me.role === 'auditor' || atLeast(me, 'approver'),
  /** Signing the chain head is a write: approvers and admins scoped to "*" (never an auditor). */
  takeCheckpoint: (me: WhoAmI) => atLeast(me, 'approver') && me.scope === '*',
  /** Webhooks are admin-only and global. */
  manageWebhooks: (me: WhoAmI) => me.role === 'admin' && me.scope === '*',
};
