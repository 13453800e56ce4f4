// What the domain rules read: the registry's state as one synchronous view. The embedded store
// and every replica serve it from LMDB, whose reads are memory-mapped; the hot path reads nothing else.
import type {
  AliasEvent,
  AliasPointer,
  Approval,
  AuditEntry,
  ManifestRecord,
  Model,
  Page,
  TokenRecord,
  Version,
  VersionEvent,
} from './types.js';
import type { Checkpoint } from './checkpoint.js';
import type { OutboxEntry, WebhookEndpoint } from './webhooks.js';
import type { SignatureRecord } from './model-signing.js';

export interface ListModelsQuery {
  prefix?: string;
  cursor?: string;
  limit: number;
  /** Keeps only models for which this returns true (scope, tag, owner, alias filters). */
  filter?: (model: Model) => boolean;
}

export interface RegistryReader {
  currentSeq(): number;
  getModel(name: string): Model | undefined;
  getVersion(name: string, version: number): Version | undefined;
  getVersionByDigest(name: string, digest: string): Version | undefined;
  /** The version whose digest starts with sha256:<hexPrefix> (Hugging Face commit ids are 40 of its hex digits). */
  getVersionByDigestPrefix(name: string, hexPrefix: string): Version | undefined;
  getManifest(name: string, digest: string): ManifestRecord | undefined;
  listManifests(name: string): ManifestRecord[];
  getAlias(name: string, alias: string): AliasPointer | undefined;
  listAliases(name: string): AliasPointer[];
  listModels(query: ListModelsQuery): Page<Model>;
  listVersions(name: string, cursor: number | undefined, limit: number): Page<Version>;
  /** Every version of every model, in (name, version) order. */
  allVersions(): Iterable<Version>;
  aliasHistory(name: string, alias: string): AliasEvent[];
  /** The alias's events newest first, read as the caller iterates (it may stop early). */
  aliasEventsNewestFirst(name: string, alias: string): Iterable<AliasEvent>;
  /** All alias events of a model, grouped by alias, each group in sequence order. */
  modelAliasEvents(name: string): AliasEvent[];
  listApprovals(name: string, version: number): Approval[];
  versionHistory(name: string, version: number): VersionEvent[];
  getToken(id: string): TokenRecord | undefined;
  listTokens(): TokenRecord[];
  isBlobReferenced(digest: string): boolean;
  /** Versions whose file lists include the blob. */
  blobReferences(digest: string): { name: string; version: number }[];
  /** Stacks that pin the version directly, each with the component name it has there. */
  stacksContaining(name: string, version: number): { name: string; version: number; component: string }[];
  /** Versions whose lineage names this version as their parent. */
  lineageChildren(name: string, version: number): { name: string; version: number }[];
  /** Versions whose lineage lists a dataset with this digest or URI. */
  datasetReferences(key: string): { name: string; version: number }[];
  auditEntries(fromSeq: number, limit: number): AuditEntry[];
  /** Registered webhook endpoints, by id. */
  listWebhooks(): WebhookEndpoint[];
  getWebhook(id: string): WebhookEndpoint | undefined;
  /** The verified model signatures attached to a version. */
  listSignatures(name: string, version: number): SignatureRecord[];
  /** Outbox entries with a sequence above `afterSeq`, in sequence order. */
  outboxEntries(afterSeq: number, limit: number): OutboxEntry[];
  /** The outbox entry of the change at `seq`, if it wrote one. */
  outboxEntryAt(seq: number): OutboxEntry | undefined;
  /** The last audit entry's sequence and hash (0 and the genesis hash when empty). */
  auditHead(): { seq: number; hash: string };
  /** The last signed checkpoint and the sequence of the entry that recorded it. */
  lastCheckpoint(): { entrySeq: number; checkpoint: Checkpoint } | undefined;
}
