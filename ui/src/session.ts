// The signed-in token lives in sessionStorage only: it is gone when the tab closes, is never put
// in a URL or a cookie, and is never shown again after it was pasted.
import type { WhoAmI } from './types';

const KEY = 'modelgate.token';
const listeners = new Set<() => void>();
let me: WhoAmI | null = null;
let expiredNotice = false;

function notify(): void {
  for (const listener of listeners) listener();
}

export const session = {
  token(): string | null {
    return sessionStorage.getItem(KEY);
  },
  me(): WhoAmI | null {
    return me;
  },
  /** True once after the server refused the stored token (revoked, expired). */
  wasExpired(): boolean {
    return expiredNotice;
  },
  signIn(token: string, who: WhoAmI): void {
    sessionStorage.setItem(KEY, token);
    me = who;
    expiredNotice = false;
    notify();
  },
  restore(who: WhoAmI): void {
    me = who;
    notify();
  },
  signOut(): void {
    sessionStorage.removeItem(KEY);
    me = null;
    notify();
  },
  expired(): void {
    if (!sessionStorage.getItem(KEY)) return;
    expiredNotice = true;
    session.signOut();
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
