// Webhooks as the domain sees them: the endpoint record, which events an endpoint receives, the
// outbox entry a commit writes for them, and the Standard Webhooks signature
// (https://www.standardwebhooks.com: HMAC-SHA256 over `id.timestamp.body`, `v1,<base64>`).
// Transport (DNS, sockets, retries) lives in src/webhooks.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { stepModel } from './audit-steps.js';

export interface WebhookSecret {
  /** `whsec_<base64 key>`: shown once, at creation or rotation. */
  secret: string;
  createdAt: string;
  /** Set when a rotation replaced it: it keeps signing until then. */
  expiresAt: string | null;
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** Event types (audit actions such as `alias.set`), globs such as `alias.*`, or `*` for all. */
  events: string[];
  /** Model-name glob: only changes to matching models are sent (`*`: every change, including those of no model). */
  scope: string;
  description: string;
  secrets: WebhookSecret[];
  createdAt: string;
  createdBy: string;
  seq: number;
}

/** The endpoint as the API shows it: never its secrets. */
export interface WebhookView extends Omit<WebhookEndpoint, 'secrets'> {
  /** How many secrets sign right now (2 during a rotation). */
  activeSecrets: number;
  rotationEndsAt: string | null;
}

/**
 * One committed change that at least one endpoint asked for, written in the same commit as the
 * change itself: nothing committed is lost before it is delivered, whatever node crashes when.
 */
export interface OutboxEntry {
  seq: number;
  at: string;
  /** The event type: the audit action of the change (`version.register`, `alias.set`, `denied.alias`…). */
  type: string;
  /** The model the change concerns, or '' (tokens, webhooks, GC runs). */
  model: string;
  target: string;
  actor: { id: string; name: string };
  data: Record<string, unknown>;
  /** The endpoints subscribed when the change committed. */
  endpoints: string[];
}

/** The JSON body every receiver gets (Standard Webhooks payload shape: type, timestamp, data). */
export function webhookPayload(entry: OutboxEntry): string {
  return JSON.stringify({
    type: entry.type,
    timestamp: entry.at,
    data: { seq: entry.seq, model: entry.model, target: entry.target, actor: entry.actor.name, ...entry.data },
  });
}

/** The message id a receiver deduplicates on: the same for every attempt and replay of one event to one endpoint. */
export function webhookMessageId(seq: number, endpointId: string): string {
  return `msg_${seq}_${endpointId}`;
}

// ---- which events an endpoint receives ----

const EVENT_PATTERN = /^(\*|[a-z][a-z0-9_-]*(\.([a-z0-9_-]+|\*))*)$/;

export function isEventPattern(text: string): boolean {
  return text.length <= 100 && EVENT_PATTERN.test(text);
}

const compiled = new Map<string, RegExp>();

/** `*` matches any run of characters; everything else matches itself. */
export function globMatches(glob: string, text: string): boolean {
  if (glob === '*') return true;
  let re = compiled.get(glob);
  if (!re) {
    re = new RegExp(`^${glob.split('*').map(escapeRegExp).join('.*')}$`);
    compiled.set(glob, re);
  }
  return re.test(text);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether the endpoint wants the event `type` about `model` ('' for changes of no model: only scope `*`). */
export function endpointWants(endpoint: Pick<WebhookEndpoint, 'events' | 'scope'>, type: string, model: string): boolean {
  if (model === '' ? endpoint.scope !== '*' : !globMatches(endpoint.scope, model)) return false;
  return endpoint.events.some((e) => globMatches(e, type));
}

/** The model an audit entry concerns (`team/model@v3` → `team/model`), by the audit scope's rule; '' for changes of no model (tokens, webhooks, GC runs, fleet findings, refusals of no model). */
export function eventModel(action: string, target: string): string {
  return stepModel({ action, target }) ?? '';
}

// ---- secrets and signatures ----

const SECRET_PREFIX = 'whsec_';

export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** The secrets that sign at `now`: the current one, and during a rotation the one it replaces. */
export function signingSecrets(endpoint: Pick<WebhookEndpoint, 'secrets'>, now: number): string[] {
  return endpoint.secrets.filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > now).map((s) => s.secret);
}

function key(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/** `v1,<base64 HMAC-SHA256>` of `id.timestamp.body` with one secret. */
export function signature(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The `webhook-signature` header: one signature per active secret, space-separated. */
export function signatureHeader(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  return secrets.map((s) => signature(s, id, timestamp, body)).join(' ');
}

/**
 * A receiver's check (the README's example does the same): a signature from `secret` is among
 * those in the header, and the timestamp is within `toleranceSeconds` of now (a replay of an old
 * message fails even with its genuine signature).
 */
export function verifySignature(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  now = Date.now(),
  toleranceSeconds = 300,
): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isSafeInteger(ts) || Math.abs(now / 1000 - ts) > toleranceSeconds) return false;
  const expected = Buffer.from(signature(secret, headers.id, ts, body));
  return headers.signature.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** The endpoint without its secrets. */
export function webhookView(endpoint: WebhookEndpoint, now = Date.now()): WebhookView {
  const { secrets, ...rest } = endpoint;
  const rotating = secrets.filter((s) => s.expiresAt !== null && Date.parse(s.expiresAt) > now);
  return {
    ...rest,
    activeSecrets: signingSecrets(endpoint, now).length,
    rotationEndsAt: rotating.length > 0 ? rotating.map((s) => s.expiresAt!).sort()[rotating.length - 1]! : null,
  };
}

/** One event on its way to one endpoint: the delivery log's row. */
export interface WebhookDelivery {
  /** The `webhook-id` header (webhookMessageId): the same on every attempt and replay. */
  id: string;
  seq: number;
  endpointId: string;
  type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  /** When the change committed. */
  createdAt: string;
  /** Start of the current retry window (the commit, or the last replay): attempts stop `maxAge` after it. */
  retryFrom: string;
  /** Epoch milliseconds of the next attempt while pending. */
  nextAttemptAt: number;
  lastAttemptAt: string | null;
  lastResponseCode: number | null;
  lastLatencyMs: number | null;
  lastError: string | null;
  finishedAt: string | null;
}

/** A fresh delivery for an outbox entry, due at once. */
export function newDelivery(entry: Pick<OutboxEntry, 'seq' | 'at' | 'type'>, endpointId: string): WebhookDelivery {
  return {
    id: webhookMessageId(entry.seq, endpointId),
    seq: entry.seq,
    endpointId,
    type: entry.type,
    status: 'pending',
    attempts: 0,
    createdAt: entry.at,
    retryFrom: entry.at,
    nextAttemptAt: Date.parse(entry.at),
    lastAttemptAt: null,
    lastResponseCode: null,
    lastLatencyMs: null,
    lastError: null,
    finishedAt: null,
  };
}
