// Typed HTTP client for the modelgate v1 API: JSON calls over node:http (json-request.ts), bulk bytes
// and the resolve over the lean connection (http1-connection.ts). Every method either returns what
// the contract promises or throws one of the errors in ./errors.js.
import { apiErrorFromText } from './api-error.js';
import {
  appendUploadStream,
  BlobRangeReader,
  checkStoredSize,
  getText,
  uploadBlobStream,
  type PositionedRead,
  type TransferTarget,
  type UploadOptions,
} from './blob-transfer.js';
import { type ConnectionOptions, NoContentLengthError } from './http1-connection.js';
import { jsonRequest, type JsonResponse } from './json-request.js';
import { type ModelgateApiError, ModelgateConnectionError, ModelgateTransferError } from './errors.js';
import type {
  ImpactReport,
  LineageGraph,
  AliasAtTime,
  AliasChange,
  AliasEvent,
  ApprovalResult,
  AuditJsonlPage,
  AuditPage,
  AuditQuery,
  AuditVerification,
  CheckpointList,
  CheckpointTaken,
  PublishedKey,
  BlobVerifyReport,
  ControlPlaneRestore,
  ControlPlaneStatus,
  CreatedToken,
  CreateTokenRequest,
  Decision,
  DeploymentSpan,
  FileEntry,
  FleetHistorySpan,
  FleetOverview,
  FleetReport,
  FleetView,
  UnregisteredArtifact,
  GcReport,
  ModelDetails,
  ModelVersion,
  RegisteredVersion,
  Resolution,
  RollbackRequest,
  SetAliasRequest,
  StoredBlob,
  TokenInfo,
  CreateWebhookRequest,
  SignatureInfo,
  WebhookDelivery,
  WebhookPing,
  WebhookView,
  WebhookWithSecret,
  VersionDetails,
  VersionHistory,
  VersionPatchInput,
  VersionRecordInput,
} from './types.js';
import { paths } from './urls.js';

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:8080`; a path prefix is kept (`https://host/modelgate`). */
  baseUrl: string;
  token?: string;
  /** `<deployment>/<instance>`, sent as X-Modelgate-Deployment on every request (fleet telemetry). */
  deployment?: string;
}

interface SendOptions {
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Non-2xx statuses the caller handles itself instead of getting a ModelgateApiError. */
  accept?: readonly number[];
}

export class ModelgateClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly deployment: string | undefined;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token;
    this.deployment = options.deployment;
  }

  /** Size of a stored blob, or null when the server does not have it. */
  async blobSize(digest: string, signal?: AbortSignal): Promise<number | null> {
    const res = await this.send('HEAD', paths.blob(digest), { signal, accept: [404] });
    if (res.status === 404) return null;
    const header = res.headers.get('content-length');
    const length = header !== null && /^[0-9]{1,16}$/.test(header) ? Number(header) : NaN;
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new ModelgateTransferError(`HEAD ${paths.blob(digest)} answered without a usable Content-Length`);
    }
    return length;
  }

  /**
   * The fast way up: `size` bytes read from `read` into two reused buffers and sent as one
   * streamed request on a connection of its own (no fetch streams in between).
   */
  uploadBlobFrom(digest: string, size: number, read: PositionedRead, options: UploadOptions = {}): Promise<StoredBlob> {
    return uploadBlobStream(this.transferTarget(), digest, size, read, options);
  }

  /** Opens a resumable upload session (the fallback when a one-request upload failed). */
  async openUpload(signal?: AbortSignal): Promise<{ id: string; offset: number }> {
    return this.readJson<{ id: string; offset: number }>(await this.send('POST', paths.uploads(), { signal }));
  }

  /** How many bytes of the session the server holds durably: where to resume. */
  async uploadOffset(id: string, signal?: AbortSignal): Promise<number> {
    return (await this.readJson<{ offset: number }>(await this.send('GET', paths.upload(id), { signal }))).offset;
  }

  /** Appends source bytes `start..start+length-1` to the session; returns its new offset. */
  appendUpload(id: string, start: number, length: number, read: PositionedRead, options: UploadOptions = {}): Promise<number> {
    return appendUploadStream(this.transferTarget(), id, start, length, read, options);
  }

  /** Verifies the session's bytes against `digest` and stores them as that blob. */
  async commitUpload(id: string, digest: string, size: number, signal?: AbortSignal): Promise<StoredBlob> {
    const stored = await this.readJson<StoredBlob>(await this.send('PUT', paths.uploadCommit(id, digest), { signal }));
    checkStoredSize(stored, digest, size);
    return stored;
  }

  /** Drops a session and what it holds (an upload abandoned because the blob turned out to be stored). */
  async cancelUpload(id: string, signal?: AbortSignal): Promise<void> {
    await this.send('DELETE', paths.upload(id), { signal, accept: [404] });
  }

  /** A keep-alive connection for the fast way down: byte ranges handed over from one reused buffer. */
  rangeReader(options: ConnectionOptions = {}): BlobRangeReader {
    return new BlobRangeReader(this.transferTarget(), options);
  }

  /**
   * Registers a file list (whose blobs must be stored) with an optional record: metadata, lineage,
   * metrics, card. An identical file list returns the existing version unchanged (created false).
   * `components` (name → `model@ref`) makes it a stack: the server freezes each to a version digest.
   */
  async registerVersion(
    name: string,
    files: FileEntry[],
    record: VersionRecordInput = {},
    signal?: AbortSignal,
    components?: Record<string, string>,
  ): Promise<RegisteredVersion> {
    const body = { files, ...record, ...(components && Object.keys(components).length > 0 ? { components } : {}) };
    const res = await this.sendJson('POST', paths.versions(name), body, signal);
    return { version: await this.readJson<ModelVersion>(res), created: res.status === 201 };
  }

  /** The model, with `aliases: {alias: version}`. */
  async getModel(name: string, signal?: AbortSignal): Promise<ModelDetails> {
    return this.readJson<ModelDetails>(await this.send('GET', paths.model(name), { signal }));
  }

  /** A version now, or with `at` (ISO 8601) its record and status as they were then. */
  async getVersion(name: string, version: number, signal?: AbortSignal, at?: string): Promise<VersionDetails> {
    const path = paths.version(name, version) + (at === undefined ? '' : `?at=${encodeURIComponent(at)}`);
    return this.readJson<VersionDetails>(await this.send('GET', path, { signal }));
  }

  /** Registration, every update and every decision on a version, plus its approvals. */
  async versionHistory(name: string, version: number, signal?: AbortSignal): Promise<VersionHistory> {
    return this.readJson<VersionHistory>(await this.send('GET', paths.versionHistory(name, version), { signal }));
  }

  /**
   * Approve or reject a version (never the caller's own; once per approver and record). With
   * `recordDigest`, the server refuses (RECORD_CHANGED) if the record is no longer the one reviewed.
   */
  async decide(
    name: string,
    version: number,
    decision: Decision,
    options: { comment?: string; recordDigest?: string } = {},
    signal?: AbortSignal,
  ): Promise<ApprovalResult> {
    const body = {
      decision,
      ...(options.comment === undefined ? {} : { comment: options.comment }),
      ...(options.recordDigest === undefined ? {} : { recordDigest: options.recordDigest }),
    };
    return this.readJson<ApprovalResult>(await this.sendJson('POST', paths.approvals(name, version), body, signal));
  }

  /**
   * Edits a version's record (writer): each field given replaces the stored one; the file list never
   * changes. The approvals of the old record are void; an edit that would break a protected alias's
   * policy is refused (POLICY_UNMET).
   */
  async updateVersion(name: string, version: number, patch: VersionPatchInput, signal?: AbortSignal): Promise<ModelVersion> {
    return this.readJson<ModelVersion>(await this.sendJson('PATCH', paths.version(name, version), patch, signal));
  }

  /** Deletes a version (admin); refused while an alias or a stack holds it, or once it held a protected alias. */
  async deleteVersion(name: string, version: number, reason: string, signal?: AbortSignal): Promise<void> {
    await this.readText(await this.sendJson('DELETE', paths.version(name, version), { reason }, signal));
  }

  /** Retires a version for good: no alias may point at it again; it stays downloadable by digest. */
  async retire(name: string, version: number, reason?: string, signal?: AbortSignal): Promise<VersionDetails> {
    return this.readJson<VersionDetails>(
      await this.sendJson('POST', paths.retire(name, version), reason === undefined ? {} : { reason }, signal),
    );
  }

  /** Every version, stack and alias that includes a blob digest, `name@ref`, or a dataset digest or URI. */
  async impact(target: string, signal?: AbortSignal): Promise<ImpactReport> {
    return this.readJson<ImpactReport>(await this.send('GET', paths.impact(target), { signal }));
  }

  /** A version's ancestors and descendants (lineage parents, components, datasets) as a graph. */
  async lineage(name: string, ref: string, signal?: AbortSignal): Promise<LineageGraph> {
    return this.readJson<LineageGraph>(await this.send('GET', paths.lineage(name, ref), { signal }));
  }

  /** The alias timeline, oldest first. */
  async aliasHistory(name: string, alias: string, signal?: AbortSignal): Promise<AliasEvent[]> {
    const body = await this.readJson<{ history: AliasEvent[] }>(await this.send('GET', paths.aliasHistory(name, alias), { signal }));
    return body.history;
  }

  /** What the alias pointed at, at `at` (an ISO 8601 time). */
  async aliasAt(name: string, alias: string, at: string, signal?: AbortSignal): Promise<AliasAtTime> {
    return this.readJson<AliasAtTime>(await this.send('GET', paths.aliasHistory(name, alias, at), { signal }));
  }

  /** Which version each alias served, from when until when, in sequence order. */
  async deployments(name: string, signal?: AbortSignal): Promise<DeploymentSpan[]> {
    const body = await this.readJson<{ deployments: DeploymentSpan[] }>(await this.send('GET', paths.deployments(name), { signal }));
    return body.deployments;
  }

  async createToken(request: CreateTokenRequest, signal?: AbortSignal): Promise<CreatedToken> {
    return this.readJson<CreatedToken>(await this.sendJson('POST', paths.tokens(), request, signal));
  }

  async listTokens(signal?: AbortSignal): Promise<TokenInfo[]> {
    return (await this.readJson<{ tokens: TokenInfo[] }>(await this.send('GET', paths.tokens(), { signal }))).tokens;
  }

  async revokeToken(id: string, signal?: AbortSignal): Promise<TokenInfo> {
    return this.readJson<TokenInfo>(await this.send('DELETE', paths.token(id), { signal }));
  }

  /** The version's CycloneDX 1.6 BOM, as the JSON text the server sent. */
  async bom(name: string, version: number, signal?: AbortSignal): Promise<string> {
    return this.readText(await this.send('GET', paths.bom(name, version), { signal }));
  }

  /** The model inventory in the token's scope: CSV text, or JSON text. */
  async inventory(format: 'json' | 'csv', prefix?: string, signal?: AbortSignal): Promise<string> {
    const query = new URLSearchParams({ format, ...(prefix ? { prefix } : {}) });
    return this.readText(await this.send('GET', paths.inventory(`?${query}`), { signal }));
  }

  /** Attaches a Sigstore bundle (OpenSSF model signing) to a version; the server verifies it first. */
  async addSignature(name: string, version: number, bundle: unknown, signal?: AbortSignal): Promise<SignatureInfo> {
    return this.readJson<SignatureInfo>(await this.sendJson('POST', paths.signatures(name, version), bundle, signal));
  }

  async listSignatures(name: string, version: number, signal?: AbortSignal): Promise<SignatureInfo[]> {
    return (await this.readJson<{ signatures: SignatureInfo[] }>(await this.send('GET', paths.signatures(name, version), { signal })))
      .signatures;
  }

  /** The bundle of one signature, as it was submitted. */
  async signatureBundle(name: string, version: number, id: string, signal?: AbortSignal): Promise<unknown> {
    return this.readJson<unknown>(await this.send('GET', paths.signature(name, version, id), { signal }));
  }

  async createWebhook(request: CreateWebhookRequest, signal?: AbortSignal): Promise<WebhookWithSecret> {
    return this.readJson<WebhookWithSecret>(await this.sendJson('POST', paths.webhooks(), request, signal));
  }

  async listWebhooks(signal?: AbortSignal): Promise<WebhookView[]> {
    return (await this.readJson<{ webhooks: WebhookView[] }>(await this.send('GET', paths.webhooks(), { signal }))).webhooks;
  }

  async removeWebhook(id: string, signal?: AbortSignal): Promise<WebhookView> {
    return this.readJson<WebhookView>(await this.send('DELETE', paths.webhook(id), { signal }));
  }

  async webhookDeliveries(id: string, limit?: number, signal?: AbortSignal): Promise<WebhookDelivery[]> {
    const path = paths.webhook(id, 'deliveries') + (limit === undefined ? '' : `?limit=${limit}`);
    return (await this.readJson<{ deliveries: WebhookDelivery[] }>(await this.send('GET', path, { signal }))).deliveries;
  }

  async redeliverWebhook(id: string, deliveryId: string, signal?: AbortSignal): Promise<WebhookDelivery> {
    return this.readJson<WebhookDelivery>(await this.send('POST', paths.webhook(id, 'deliveries', deliveryId, 'redeliver'), { signal }));
  }

  async testWebhook(id: string, signal?: AbortSignal): Promise<WebhookPing> {
    return this.readJson<WebhookPing>(await this.send('POST', paths.webhook(id, 'test'), { signal }));
  }

  async rotateWebhook(id: string, graceSeconds?: number, signal?: AbortSignal): Promise<WebhookWithSecret> {
    const body = graceSeconds === undefined ? {} : { graceSeconds };
    return this.readJson<WebhookWithSecret>(await this.sendJson('POST', paths.webhook(id, 'rotate'), body, signal));
  }

  /** One page of audit entries; `nextSeq` says where the next page starts. */
  async auditPage(query: AuditQuery = {}, signal?: AbortSignal): Promise<AuditPage> {
    return this.readJson<AuditPage>(await this.send('GET', paths.audit(auditParams(query)), { signal }));
  }

  /** One page of audit entries as JSON Lines, with where the next page starts (`X-Next-Seq`). */
  async auditJsonlPage(query: AuditQuery = {}, signal?: AbortSignal): Promise<AuditJsonlPage> {
    const path = paths.audit({ ...auditParams(query), format: 'jsonl' });
    const res = await this.send('GET', path, { signal, headers: { Accept: 'application/x-ndjson' } });
    const header = res.headers.get('x-next-seq');
    let nextSeq: number | null = null;
    if (header !== null) {
      if (!/^[1-9][0-9]{0,15}$/.test(header))
        throw new ModelgateTransferError(`GET ${path} answered with an unusable X-Next-Seq "${header.slice(0, 40)}"`);
      nextSeq = Number(header);
    }
    return { text: await this.readText(res), nextSeq };
  }

  /** Recomputes the audit chain on the server; a broken chain is an answer (ok false), not an error. */
  async verifyAudit(signal?: AbortSignal): Promise<AuditVerification> {
    return this.readJson<AuditVerification>(await this.send('GET', paths.auditVerify(), { signal, accept: [409] }));
  }

  /** Signs the chain's head now (created false when the chain has not moved since the last checkpoint). */
  async takeCheckpoint(signal?: AbortSignal): Promise<CheckpointTaken> {
    return this.readJson<CheckpointTaken>(await this.sendJson('POST', paths.auditCheckpoints(), {}, signal));
  }

  /** The recorded checkpoints (oldest first), the latest, and the published keys. */
  async checkpoints(signal?: AbortSignal): Promise<CheckpointList> {
    return this.readJson<CheckpointList>(await this.send('GET', paths.auditCheckpoints(), { signal }));
  }

  /** The public keys that verify checkpoints (no token needed). */
  async checkpointKeys(signal?: AbortSignal): Promise<{ keys: PublishedKey[] }> {
    return this.readJson<{ keys: PublishedKey[] }>(await this.send('GET', paths.checkpointKeys(), { signal }));
  }

  /** Retention and blob sweep; a dry run reports what it would delete and deletes nothing. */
  async gc(options: { dryRun: boolean }, signal?: AbortSignal): Promise<GcReport> {
    return this.readJson<GcReport>(await this.sendJson('POST', paths.gc(), { dryRun: options.dryRun }, signal));
  }

  /** Re-hashes every stored blob (admin); with `repair`, moves the damaged ones aside. */
  async verifyBlobs(options: { repair: boolean }, signal?: AbortSignal): Promise<BlobVerifyReport> {
    return this.readJson<BlobVerifyReport>(await this.sendJson('POST', paths.blobVerify(), { repair: options.repair }, signal));
  }

  /** Every node's heartbeat against the shared authority (admin). */
  async controlPlaneStatus(signal?: AbortSignal): Promise<ControlPlaneStatus> {
    return this.readJson<ControlPlaneStatus>(await this.send('GET', paths.controlPlane(), { signal }));
  }

  /** Rebuilds the shared control plane from the replica of the node this client talks to (admin). */
  async restoreControlPlane(signal?: AbortSignal): Promise<ControlPlaneRestore> {
    return this.readJson<ControlPlaneRestore>(await this.sendJson('POST', paths.controlPlaneRestore(), { fromReplica: true }, signal));
  }

  async setAlias(name: string, alias: string, request: SetAliasRequest, signal?: AbortSignal): Promise<AliasChange> {
    return this.readJson<AliasChange>(await this.sendJson('PUT', paths.alias(name, alias), request, signal));
  }

  async rollback(name: string, alias: string, request: RollbackRequest, signal?: AbortSignal): Promise<AliasChange> {
    return this.readJson<AliasChange>(await this.sendJson('POST', paths.rollback(name, alias), request, signal));
  }

  /** One model's fleet: every instance (following the pages), versions, convergence per alias. */
  async fleet(name: string, signal?: AbortSignal): Promise<FleetView> {
    const view = await this.fleetPage(name, {}, signal);
    // A server from before paging sends no nextCursor at all: that is the last page too.
    for (let cursor = view.nextCursor ?? null; cursor !== null; ) {
      const next = await this.fleetPage(name, { cursor }, signal);
      view.instances.push(...next.instances);
      cursor = next.nextCursor ?? null;
    }
    view.nextCursor = null;
    return view;
  }

  /** One page of a model's fleet: up to `limit` instances after `cursor`, with versions and aliases over all of them. */
  async fleetPage(name: string, page: { cursor?: string; limit?: number }, signal?: AbortSignal): Promise<FleetView> {
    return this.readJson<FleetView>(await this.send('GET', paths.fleet(name, page), { signal }));
  }

  /** Every observed model in the token's scope (following the pages), with its instances per version. */
  async fleetOverview(signal?: AbortSignal): Promise<FleetOverview[]> {
    const models: FleetOverview[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.readJson<{ models: FleetOverview[]; nextCursor: string | null }>(
        await this.send('GET', paths.fleet(undefined, { cursor }), { signal }),
      );
      models.push(...page.models);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return models;
  }

  /** Which instances ran each version of the model, from when to when (observed, not alias-derived). */
  async fleetHistory(name: string, version?: number, signal?: AbortSignal): Promise<FleetHistorySpan[]> {
    return (await this.readJson<{ spans: FleetHistorySpan[] }>(await this.send('GET', paths.fleetHistory(name, version), { signal })))
      .spans;
  }

  /** The same history as JSON Lines, for export. */
  async fleetHistoryJsonl(name: string, version?: number, signal?: AbortSignal): Promise<string> {
    return this.readText(
      await this.send('GET', paths.fleetHistory(name, version, 'jsonl'), { signal, headers: { Accept: 'application/x-ndjson' } }),
    );
  }

  /** Reports the weights a runtime loaded; accepted whatever the digests (202). */
  async fleetReport(report: FleetReport, signal?: AbortSignal): Promise<{ accepted: boolean; files: number }> {
    return this.readJson<{ accepted: boolean; files: number }>(await this.sendJson('POST', paths.fleetReports(), report, signal));
  }

  /** Weights reported by runtimes that no registered version lists (auditor or admin). */
  async unregisteredArtifacts(signal?: AbortSignal): Promise<UnregisteredArtifact[]> {
    return (await this.readJson<{ artifacts: UnregisteredArtifact[] }>(await this.send('GET', paths.fleetUnregistered(), { signal })))
      .artifacts;
  }

  /**
   * What name@ref resolves to now, or with `at` (ISO 8601) what it resolved to then. The first
   * request of a pull: sent over the lean connection (no node:http to load first), and again
   * through node:http only if the answer comes without a Content-Length. `onSent`: called once
   * the request is written (work to do while the answer is on its way).
   */
  async resolve(name: string, ref: string, signal?: AbortSignal, at?: string, onSent?: () => void): Promise<Resolution> {
    const path = paths.resolve(name, ref, at);
    let answer: { status: number; text: string };
    try {
      answer = await getText(this.transferTarget(), path, signal, onSent);
    } catch (err) {
      if (!(err instanceof NoContentLengthError)) throw err;
      return this.readJson<Resolution>(await this.send('GET', path, { signal }));
    }
    if (answer.status < 200 || answer.status >= 300) throw apiErrorFromText(answer.status, answer.text, 'GET', path);
    try {
      return JSON.parse(answer.text) as Resolution;
    } catch {
      throw new ModelgateTransferError(
        `the server answered ${this.baseUrl}${path} with something that is not JSON: ${answer.text.slice(0, 200)}`,
      );
    }
  }

  private transferTarget(): TransferTarget {
    return { baseUrl: this.baseUrl, token: this.token, deployment: this.deployment };
  }

  private sendJson(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<JsonResponse> {
    return this.send(method, path, { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal });
  }

  private async send(method: string, path: string, options: SendOptions = {}): Promise<JsonResponse> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (this.deployment) headers['X-Modelgate-Deployment'] = this.deployment;
    let res: JsonResponse;
    try {
      res = await jsonRequest(url, { method, headers, body: options.body, signal: options.signal });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw new ModelgateConnectionError(url, err);
    }
    if (res.ok || options.accept?.includes(res.status)) return res;
    throw await apiErrorFrom(res, method, path);
  }

  private async readText(res: JsonResponse): Promise<string> {
    try {
      return await res.text();
    } catch (err) {
      throw new ModelgateTransferError(`reading the response to ${res.url} failed`, err);
    }
  }

  private async readJson<T>(res: JsonResponse): Promise<T> {
    const text = await this.readText(res);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ModelgateTransferError(`the server answered ${res.url} with something that is not JSON: ${text.slice(0, 200)}`);
    }
  }
}

function auditParams(query: AuditQuery): Record<string, string | number | undefined> {
  return { model: query.model, actor: query.actor, action: query.action, fromSeq: query.fromSeq, toSeq: query.toSeq, limit: query.limit };
}

async function apiErrorFrom(res: JsonResponse, method: string, path: string): Promise<ModelgateApiError> {
  return apiErrorFromText(res.status, await res.text().catch(() => ''), method, path, res.statusText);
}
