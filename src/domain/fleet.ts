// Fleet telemetry as the domain sees it: who a caller says it is (a deployment and one of its
// instances), what the gateway observed it run, and how two observations of the same thing
// combine. Telemetry is observation, not registry state: none of this enters the sequence or the
// audit chain, and a merge is commutative so nodes may flush in any order.
import { badRequest, tooLarge } from './errors.js';
import type { Principal } from './principal.js';

/** The request header a deployment identifies itself with: `<deployment>/<instance>`. */
export const DEPLOYMENT_HEADER = 'x-modelgate-deployment';
/** The response header that says why a deployment header was ignored (the request is still served). */
export const DEPLOYMENT_IGNORED_HEADER = 'X-Modelgate-Deployment-Ignored';

/** A deployment or instance name: what Kubernetes, hostnames and addresses (IPv4, IPv6) produce. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const MAX_DEPLOYMENT_HEADER = 257;

export interface FleetIdentity {
  deployment: string;
  instance: string;
}

/** What is wrong with a deployment or instance name, or null. */
export function fleetNameProblem(what: 'deployment' | 'instance', name: unknown): string | null {
  if (typeof name !== 'string' || name === '') return `${what} is missing`;
  if (name.length > 128) return `${what} is longer than 128 characters`;
  if (!NAME.test(name))
    return `${what} "${name.slice(0, 40)}" must be letters, digits, ".", "_", ":" or "-", starting with a letter or digit`;
  return null;
}

/** The identity a `<deployment>/<instance>` header names, or why it names none. */
export function parseDeploymentHeader(value: string): FleetIdentity | { problem: string } {
  if (value.length > MAX_DEPLOYMENT_HEADER) return { problem: `longer than ${MAX_DEPLOYMENT_HEADER} characters` };
  const slash = value.indexOf('/');
  if (slash < 0) return { problem: 'expected <deployment>/<instance>' };
  const deployment = value.slice(0, slash);
  const instance = value.slice(slash + 1);
  const problem = fleetNameProblem('deployment', deployment) ?? fleetNameProblem('instance', instance);
  return problem ? { problem } : { deployment, instance };
}

/** A fleet view's page cursor: the `<deployment>/<instance>` the previous page ended with. */
export function parseInstanceCursor(text: string): FleetIdentity | null {
  if (text === '') return null;
  const parsed = parseDeploymentHeader(text);
  if ('problem' in parsed) throw badRequest('CURSOR_INVALID', `invalid cursor "${text.slice(0, 80)}": ${parsed.problem}`);
  return parsed;
}

/** How the gateway learnt who the caller is. */
export type FleetVia = 'header' | 'token' | 'report';

/**
 * Everything observed of one instance running one version of one model: first and last seen, how
 * many resolves and downloads, bytes served, and the last resolve's ref. Times are epoch ms; 0
 * means "never" for the last-* fields.
 */
export interface FleetObservation {
  model: string;
  version: number;
  digest: string;
  deployment: string;
  instance: string;
  firstSeen: number;
  lastSeen: number;
  resolves: number;
  downloads: number;
  bytes: number;
  lastResolveAt: number;
  /** The ref of the last resolve (an alias, v<N>, a digest); '' if it never resolved. */
  ref: string;
  lastDownloadAt: number;
  lastReportAt: number;
  /** The node that saw the latest activity, and how the caller was identified then. */
  node: string;
  via: FleetVia;
}

/**
 * The observation of an instance first seen at `now` running `target`: nothing counted, nothing
 * reported, no node yet. The hot path counts into it; a runtime's report sets its own fields.
 */
export function firstObservation(
  target: Pick<FleetObservation, 'model' | 'version' | 'digest'>,
  identity: FleetIdentity,
  via: FleetVia,
  now: number,
): FleetObservation {
  return {
    model: target.model,
    version: target.version,
    digest: target.digest,
    deployment: identity.deployment,
    instance: identity.instance,
    firstSeen: now,
    lastSeen: now,
    resolves: 0,
    downloads: 0,
    bytes: 0,
    lastResolveAt: 0,
    ref: '',
    lastDownloadAt: 0,
    lastReportAt: 0,
    node: '',
    via,
  };
}

/** The key two observations of the same instance running the same version share. */
export function observationKey(o: Pick<FleetObservation, 'model' | 'digest' | 'deployment' | 'instance'>): string {
  return `${o.model}\t${o.digest}\t${o.deployment}\t${o.instance}`;
}

/** Combines two observations of the same key; the order does not matter. */
export function mergeObservations(a: FleetObservation, b: FleetObservation): FleetObservation {
  const latest = b.lastSeen > a.lastSeen ? b : a;
  const resolved = b.lastResolveAt > a.lastResolveAt ? b : a;
  return {
    ...a,
    version: latest.version,
    firstSeen: Math.min(a.firstSeen, b.firstSeen),
    lastSeen: Math.max(a.lastSeen, b.lastSeen),
    resolves: a.resolves + b.resolves,
    downloads: a.downloads + b.downloads,
    bytes: a.bytes + b.bytes,
    lastResolveAt: resolved.lastResolveAt,
    ref: resolved.ref,
    lastDownloadAt: Math.max(a.lastDownloadAt, b.lastDownloadAt),
    lastReportAt: Math.max(a.lastReportAt, b.lastReportAt),
    node: latest.node,
    via: latest.via,
  };
}

/** A weights file an instance reported loading whose digest no registered version lists. */
export interface UnregisteredArtifact {
  digest: string;
  deployment: string;
  instance: string;
  /** Paths it was reported under (the first few). */
  paths: string[];
  size: number;
  firstSeen: number;
  lastSeen: number;
  reports: number;
}

export const MAX_ARTIFACT_PATHS = 8;

/**
 * Who may see unregistered artifacts (on GET /v1/fleet/unregistered and on /v1/watch): auditors
 * and admins scoped to "*". The digests belong to no model, so no narrower scope can cover them.
 */
export function mayReadUnregistered(principal: Pick<Principal, 'role' | 'scope'>): boolean {
  return (principal.role === 'auditor' || principal.role === 'admin') && principal.scope === '*';
}

export function artifactKey(a: Pick<UnregisteredArtifact, 'digest' | 'deployment' | 'instance'>): string {
  return `${a.digest}\t${a.deployment}\t${a.instance}`;
}

export function mergeArtifacts(a: UnregisteredArtifact, b: UnregisteredArtifact): UnregisteredArtifact {
  const paths = [...a.paths];
  for (const p of b.paths) if (!paths.includes(p) && paths.length < MAX_ARTIFACT_PATHS) paths.push(p);
  return {
    ...a,
    paths,
    size: b.lastSeen >= a.lastSeen ? b.size : a.size,
    firstSeen: Math.min(a.firstSeen, b.firstSeen),
    lastSeen: Math.max(a.lastSeen, b.lastSeen),
    reports: a.reports + b.reports,
  };
}

/** A batch as one row per key, rows of the same key combined with `merge` (mergeObservations, mergeArtifacts). */
export function foldByKey<T>(batch: readonly T[], keyOf: (row: T) => string, merge: (a: T, b: T) => T): Map<string, T> {
  const rows = new Map<string, T>();
  for (const row of batch) {
    const key = keyOf(row);
    const earlier = rows.get(key);
    rows.set(key, earlier ? merge(earlier, row) : row);
  }
  return rows;
}

/**
 * The row cap every fleet store applies when it folds rows in: a key already stored merges with its
 * row; a new key is stored while the store holds fewer than `cap` rows; past that it is dropped.
 * `count` is the rows held before; the answer says what to write, which keys are new, how many were
 * dropped, and the rows held after.
 */
export function capRows<T>(
  rows: ReadonlyMap<string, T>,
  stored: (key: string) => T | undefined,
  merge: (stored: T, incoming: T) => T,
  count: number,
  cap: number,
): { writes: [string, T][]; created: T[]; dropped: number; count: number } {
  const writes: [string, T][] = [];
  const created: T[] = [];
  let dropped = 0;
  for (const [key, incoming] of rows) {
    const old = stored(key);
    if (old !== undefined) writes.push([key, merge(old, incoming)]);
    else if (count < cap) {
      writes.push([key, incoming]);
      created.push(incoming);
      count++;
    } else dropped++;
  }
  return { writes, created, dropped, count };
}

/** A runtime's report of the weights it loaded: `POST /v1/fleet/reports`. */
/** Fleet telemetry's own counters (queue, drops, failures), as /metrics and the admin view read them. */
export interface FleetStats {
  pending: number;
  dropped: number;
  malformed: number;
  storeDropped: number;
  flushFailures: number;
  reports: number;
  unregisteredFound: number;
  /** Watch summaries computed (a model nobody watches is not summarized). */
  summaries: number;
  /** Straggler findings this node recorded in the audit log. */
  stragglerFindings: number;
  /** Straggler checks that failed (store or control store away). */
  stragglerCheckFailures: number;
}

export interface FleetReport extends FleetIdentity {
  /** The model the deployment believes it runs, if it says; checked against the token's scope. */
  model?: string;
  files: { path: string; digest: string; size: number }[];
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The report a request body holds, or a 400 naming the first thing wrong with it. */
export function parseFleetReport(body: unknown, maxFiles: number): FleetReport {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw badRequest('REPORT_INVALID', 'a report is {"deployment","instance","files":[{"path","digest","size"}]}');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!['deployment', 'instance', 'model', 'files'].includes(key))
      throw badRequest('REPORT_INVALID', `unknown field "${key.slice(0, 40)}"`);
  }
  const problem = fleetNameProblem('deployment', b.deployment) ?? fleetNameProblem('instance', b.instance);
  if (problem) throw badRequest('IDENTITY_INVALID', problem);
  if (b.model !== undefined && typeof b.model !== 'string') throw badRequest('REPORT_INVALID', 'model must be a string');
  if (!Array.isArray(b.files) || b.files.length === 0) throw badRequest('REPORT_INVALID', 'files must be a non-empty array');
  if (b.files.length > maxFiles)
    throw tooLarge('REPORT_TOO_LARGE', `a report lists at most ${maxFiles} files; this one lists ${b.files.length}`);
  const files = b.files.map((f: unknown, i) => {
    const file = f as Record<string, unknown> | null;
    if (!file || typeof file !== 'object') throw badRequest('REPORT_INVALID', `files[${i}] must be {"path","digest","size"}`);
    const { path, digest, size } = file;
    if (typeof path !== 'string' || path === '' || path.length > 1024)
      throw badRequest('REPORT_INVALID', `files[${i}].path must be a string of 1 to 1024 characters`);
    if (typeof digest !== 'string' || !DIGEST.test(digest))
      throw badRequest('DIGEST_INVALID', `files[${i}].digest "${String(digest).slice(0, 80)}" is not sha256:<64 lowercase hex>`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw badRequest('REPORT_INVALID', `files[${i}].size must be a whole number of bytes`);
    return { path, digest, size };
  });
  return {
    deployment: b.deployment as string,
    instance: b.instance as string,
    ...(b.model !== undefined ? { model: b.model as string } : {}),
    files,
  };
}
