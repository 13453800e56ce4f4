// Live updates: one WebSocket to /v1/watch for the whole console. The token travels in
// Sec-WebSocket-Protocol (base64url, as Kubernetes does for browsers), never in the URL. After a
// drop it reconnects with ?since=<last seq>, so nothing committed meanwhile is missed.
import { useEffect, useState } from 'preact/hooks';
import { session } from './session';

export interface Change {
  type: 'change';
  seq: number;
  model: string;
  action: string;
  alias?: string;
  version?: number;
  previous?: number;
  actor?: string;
  at?: string;
}

type Status = 'connecting' | 'live' | 'offline';

const listeners = new Set<() => void>();
let lastSeq: number | null = null;
let status: Status = 'offline';
let socket: WebSocket | null = null;
let retry: ReturnType<typeof setTimeout> | undefined;
let attempts = 0;
/** The newest change seen per model ('' = any model). */
const latest = new Map<string, Change>();

function setStatus(next: Status): void {
  status = next;
  for (const l of listeners) l();
}

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function connectLive(): void {
  disconnectLive();
  const token = session.token();
  if (!token) return;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${scheme}//${location.host}/v1/watch${lastSeq !== null ? `?since=${lastSeq}` : ''}`;
  setStatus('connecting');
  const ws = new WebSocket(url, ['modelgate.watch.v1', `base64url.bearer.modelgate.${base64url(token)}`]);
  socket = ws;
  ws.onmessage = (event) => {
    let msg: { type: string; seq: number } & Partial<Change>;
    try {
      msg = JSON.parse(String(event.data));
    } catch {
      return;
    }
    attempts = 0;
    if (typeof msg.seq === 'number') lastSeq = msg.seq;
    if (msg.type === 'change' && typeof msg.model === 'string') {
      latest.set(msg.model, msg as Change);
      latest.set('', msg as Change);
    }
    setStatus('live');
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    setStatus('offline');
    if (event.code === 4401) {
      session.expired();
      return;
    }
    // Back off up to 10 s; the first retry is quick so a restart is barely noticed.
    const delay = Math.min(10_000, 250 * 2 ** attempts++);
    retry = setTimeout(connectLive, delay);
  };
}

export function disconnectLive(): void {
  clearTimeout(retry);
  const ws = socket;
  socket = null;
  ws?.close();
  if (status !== 'offline') setStatus('offline');
}

/** Re-renders on every change to `model` (or to any model when omitted); returns the newest change's seq. */
export function useLive(model?: string): number {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return latest.get(model ?? '')?.seq ?? 0;
}

export function useLiveStatus(): Status {
  useLive();
  return status;
}
