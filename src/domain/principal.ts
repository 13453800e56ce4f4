import type { Actor } from './types.js';

export type Role = 'reader' | 'writer' | 'approver' | 'admin';
export const ROLES: readonly Role[] = ['reader', 'writer', 'approver', 'admin'];

export interface Principal extends Actor {
  role: Role;
  /** Model-name glob this principal may act on. */
  scope: string;
}

export const ROLE_RANK: Record<Role, number> = { reader: 0, writer: 1, approver: 2, admin: 3 };
