import type { Actor } from './types.js';

/** `auditor` reads what a reader reads, plus the audit log, its export, verification and checkpoints; it writes nothing. */
export type Role = 'reader' | 'writer' | 'approver' | 'admin' | 'auditor';
export const ROLES: readonly Role[] = ['reader', 'writer', 'approver', 'admin', 'auditor'];

export interface Principal extends Actor {
  role: Role;
  /** Model-name glob this principal may act on. */
  scope: string;
}

/** An auditor ranks with a reader: every route that needs more (a write, an approval, a move) refuses it. */
export const ROLE_RANK: Record<Role, number> = { reader: 0, auditor: 0, writer: 1, approver: 2, admin: 3 };

/** The roles that read the audit log (each within its scope): auditors, approvers, admins. */
export const AUDIT_READERS: readonly Role[] = ['auditor', 'approver', 'admin'];
