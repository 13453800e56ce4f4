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
/**
 * Fleet summaries received per model ('' = any model), and unregistered-artifact batches. They
 * carry no sequence number (observations, not registry changes), so pages key on a count.
 */
const fleetSummaries = new Map<string, number>();
let unregisteredBatches = 0;
/** How often at most a page following every model's fleet (the overview) is told to reload. */
const FLEET_ANY_MS = 2000;
let fleetAnyTimer: ReturnType<typeof setTimeout> | undefined;

function countFleetSummary(key: string): void {
  fleetSummaries.set(key, (fleetSummaries.get(key) ?? 0) + 1);
  // Each model sends at most one summary per interval, but a console watching many models would
  // reload the overview on every one: the "any model" count moves at most once per FLEET_ANY_MS.
  if (fleetAnyTimer === undefined) {
    fleetAnyTimer = setTimeout(() => {
      fleetAnyTimer = undefined;
      fleetSummaries.set('', (fleetSummaries.get('') ?? 0) + 1);
      for (const l of listeners) l();
    }, FLEET_ANY_MS);
  }
}

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
    // Fleet summaries: {type: 'fleet', model, …} per model, {type: 'fleet.unregistered', …} (no seq).
    const kind: string = (msg as { type: string }).type;
    if (kind === 'fleet' && typeof msg.model === 'string') countFleetSummary(msg.model);
    if (kind === 'fleet.unregistered') unregisteredBatches++;
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

/**
 * Re-renders on fleet summaries from /v1/watch; returns how many arrived for `model`, for any
 * model when omitted (moving at most once every 2 s), or for the unregistered list with
 * 'unregistered'. A page puts it beside useLive() in its reload keys.
 */
export function useFleetLive(of?: { model: string } | 'unregistered'): number {
  useLive();
  if (of === 'unregistered') return unregisteredBatches;
  return fleetSummaries.get(of === undefined ? '' : of.model) ?? 0;
}

export function useLiveStatus(): Status {
  useLive();
  return status;
}
