import { z } from 'zod';
import { parseThreshold } from '../domain/policy.js';
import { CARD_FIELDS } from '../domain/types.js';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
/** A list: as such in a config file, comma-separated (blanks dropped) from the environment. */
const commaList = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(item),
  );

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().min(1),
    port,
    maxJsonBytes: positiveInt,
    shutdownGraceSeconds: z.coerce.number().min(0),
    /**
     * How downloads send blob bytes: `auto` sends bodies of 4 MiB or more of local blobs over plain
     * http with sendfile (http/socket-send.ts) and maps the rest when the native addon loads
     * (http/mapped-source.ts); `mmap` maps without sendfile; `pread` always reads.
     */
    downloadSource: z.enum(['auto', 'mmap', 'pread']).default('auto'),
    /** HTTPS on the service's own port: both files (PEM), or neither for plain HTTP behind a proxy. */
    tls: z
      .strictObject({
        certFile: z.string(),
        keyFile: z.string(),
      })
      .default({ certFile: '', keyFile: '' })
      .refine((t) => (t.certFile === '') === (t.keyFile === ''), 'give both server.tls.certFile and server.tls.keyFile, or neither'),
  }),
  storage: z.strictObject({
    dataDir: z.string().min(1),
  }),
  control: z.strictObject({
    backend: z.enum(['lmdb', 'redis']),
    /** Alias moves rehearsed on scratch tables at start-up, so the first real changes do not run cold code (registry/warm-up.ts); 0 skips it. */
    warmUpChanges: z.coerce.number().int().min(0).max(100_000).default(6000),
  }),
  redis: z.strictObject({
    url: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL'),
    prefix: z.string().max(100),
    antiEntropyMs: z.coerce.number().int().min(50).max(600_000),
    /** A node silent this long is dropped from the node list (a crashed node never says goodbye). */
    nodeExpirySeconds: z.coerce
      .number()
      .int()
      .min(60)
      .max(30 * 86400)
      .default(3600),
  }),
  blobs: z
    .strictObject({
      backend: z.enum(['fs', 's3']),
      maxBlobBytes: positiveInt,
      s3: z.strictObject({
        bucket: z.string(),
        region: z.string().min(1),
        endpoint: z.union([z.literal(''), z.url()]),
        prefix: z.string().max(512),
        // Not z.coerce.boolean: that reads the string "false" as true.
        forcePathStyle: z.union([z.boolean(), z.stringbool()]),
      }),
      cache: z.strictObject({
        dir: z.string(),
        maxBytes: positiveInt,
      }),
    })
    .refine((b) => b.backend !== 's3' || b.s3.bucket !== '', {
      message: 'a bucket is required when blobs.backend is s3 (MODELGATE_S3_BUCKET)',
      path: ['s3', 'bucket'],
    }),
  uploads: z.strictObject({
    sessionTtlSeconds: positiveInt,
    sweepIntervalSeconds: positiveInt,
    // Hub (Git LFS) uploads of larger files go in parts of this size: one request each, below the
    // ten-digit Content-Length this uWS build refuses.
    hubPartBytes: z.coerce.number().int().min(65536).max(999_999_999).default(536870912),
  }),
  watch: z
    .strictObject({
      maxBackpressureBytes: z.coerce.number().int().min(1024),
    })
    .default({ maxBackpressureBytes: 1048576 }),
  hashing: z.strictObject({
    threads: positiveInt.max(64),
  }),
  log: z.strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  }),
  policy: z
    .strictObject({
      aliases: z.record(
        z.string().regex(/^[a-z][a-z0-9-]*$/, 'alias names are [a-z][a-z0-9-]*'),
        z.strictObject({
          approvals: z.coerce.number().int().min(0).default(1),
          separationOfDuties: z.boolean().default(true),
          requiredCardFields: z.array(z.enum(CARD_FIELDS)).default([]),
          metrics: z
            .array(z.string())
            .default([])
            .transform((list, ctx) =>
              list.map((text) => {
                const parsed = parseThreshold(text);
                if (!parsed) ctx.addIssue({ code: 'custom', message: `invalid metric threshold "${text}": expected like "auc >= 0.9"` });
                return parsed!;
              }),
            ),
          // A stack may take this alias only when each of its components meets this policy too.
          requireComponents: z.boolean().default(false),
          // The promotion path: earlier stages the version must first have held (any of), how
          // long (one stay), and who may move this alias (default approver where approvals > 0).
          after: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/, 'alias names are [a-z][a-z0-9-]*')).default([]),
          soakSeconds: z.coerce.number().min(0).default(0),
          moveRole: z.enum(['writer', 'approver']).optional(),
          requireSignature: z.boolean().default(false),
        }),
      ),
    })
    .default({ aliases: {} }),
  retention: z
    .strictObject({
      unprotectedVersionDays: z.coerce.number().min(0),
      // Evidence (retired or once-protected versions): 0 keeps it forever; N lets retention delete
      // it N days after it last served (see domain/retention.ts).
      evidenceVersionDays: z.coerce.number().min(0).default(0),
    })
    .default({ unprotectedVersionDays: 0, evidenceVersionDays: 0 }),
  gc: z
    .strictObject({
      graceSeconds: z.coerce.number().int().min(0),
    })
    .default({ graceSeconds: 3600 }),
  stacks: z
    .strictObject({
      maxDepth: z.coerce.number().int().min(1).max(64),
      maxComponents: z.coerce.number().int().min(1).max(10_000),
      /** GC keeps a retained version's lineage parents (transitively), as it keeps its components. */
      gcKeepsLineageParents: z.union([z.boolean(), z.stringbool()]),
    })
    .default({ maxDepth: 8, maxComponents: 256, gcKeepsLineageParents: true }),
  fleet: z
    .strictObject({
      enabled: z.union([z.boolean(), z.stringbool()]),
      nodeName: z.string().max(128),
      // A comma-separated list from the environment, a list in a file.
      trustedProxies: commaList(z.string().regex(/^[0-9a-fA-F:.]+(\/[0-9]{1,3})?$/, 'an IP address or CIDR range')),
      flushIntervalMs: z.coerce.number().int().min(50).max(600_000),
      maxPendingEntries: positiveInt,
      maxRecords: positiveInt,
      instanceSilenceSeconds: positiveInt,
      stragglerWindowSeconds: z.coerce.number().int().min(0),
      retentionDays: z.coerce.number().positive(),
      maxReportFiles: positiveInt.max(1_000_000),
      watchIntervalSeconds: z.coerce.number().min(0),
    })
    .default({
      enabled: true,
      nodeName: '',
      trustedProxies: [],
      flushIntervalMs: 1000,
      maxPendingEntries: 100_000,
      maxRecords: 1_000_000,
      instanceSilenceSeconds: 86_400,
      stragglerWindowSeconds: 120,
      retentionDays: 90,
      maxReportFiles: 10_000,
      watchIntervalSeconds: 5,
    }),
  checkpoints: z
    .strictObject({
      keyFile: z.string(),
      // A list in a config file, or comma-separated in MODELGATE_CHECKPOINT_RETIRED_KEY_FILES.
      retiredKeyFiles: commaList(z.string().min(1)),
      intervalSeconds: z.coerce.number().int().min(0),
    })
    .default({ keyFile: '', retiredKeyFiles: [], intervalSeconds: 3600 }),
  signing: z
    .strictObject({
      // PEM public keys whose OpenSSF model-signing bundles are accepted; a comma-separated list from the environment.
      // Each is a file, `FILE@UNTIL` (UNTIL an RFC 3339 date-time), or {file, validUntil}: past
      // validUntil the key verifies nothing new.
      trustedKeys: commaList(
        z.union([z.string().min(1), z.strictObject({ file: z.string().min(1), validUntil: z.iso.datetime({ offset: true }) })]),
      ),
      // Signers trusted through a certificate (config file only): caFile holds the PEM chain the
      // leaf must chain to (root and intermediates), subjectAlternativeName the exact email or URI
      // the leaf must name, issuer (optional) the OIDC-issuer extension a Fulcio-style CA writes.
      certificateIdentities: z
        .array(
          z.strictObject({ caFile: z.string().min(1), subjectAlternativeName: z.string().min(1), issuer: z.string().min(1).optional() }),
        )
        .default([]),
    })
    .default({ trustedKeys: [], certificateIdentities: [] }),
  webhooks: z
    .strictObject({
      // Not z.coerce.boolean: that reads the string "false" as true.
      allowPrivateNetworks: z.union([z.boolean(), z.stringbool()]).default(false),
      timeoutSeconds: z.coerce.number().positive().max(300).default(10),
      maxAgeSeconds: z.coerce.number().int().positive().default(86400),
      retryBaseMs: z.coerce.number().int().min(10).default(1000),
      retryMaxSeconds: z.coerce.number().positive().default(3600),
      concurrency: z.coerce.number().int().min(1).max(256).default(8),
      leaseSeconds: z.coerce.number().int().min(1).default(60),
      pollMs: z.coerce.number().int().min(20).max(60_000).default(1000),
      rotationGraceSeconds: z.coerce.number().int().min(0).default(86400),
    })
    .refine((w) => w.leaseSeconds > w.timeoutSeconds, {
      message: 'webhooks.leaseSeconds must exceed webhooks.timeoutSeconds, or a slow attempt could be claimed again by another node',
      path: ['leaseSeconds'],
    })
    .default({
      allowPrivateNetworks: false,
      timeoutSeconds: 10,
      maxAgeSeconds: 86400,
      retryBaseMs: 1000,
      retryMaxSeconds: 3600,
      concurrency: 8,
      leaseSeconds: 60,
      pollMs: 1000,
      rotationGraceSeconds: 86400,
    }),
  auth: z
    .strictObject({
      adminToken: z.string().min(16, 'the admin token must be at least 16 characters').optional(),
    })
    .default({}),
});

export type Config = z.infer<typeof configSchema>;

/** Environment variables and the configuration key each one sets. */
export const ENV_KEYS: Record<string, string> = {
  MODELGATE_HOST: 'server.host',
  MODELGATE_PORT: 'server.port',
  MODELGATE_MAX_JSON_BYTES: 'server.maxJsonBytes',
  MODELGATE_SHUTDOWN_GRACE_SECONDS: 'server.shutdownGraceSeconds',
  MODELGATE_DOWNLOAD_SOURCE: 'server.downloadSource',
  MODELGATE_TLS_CERT_FILE: 'server.tls.certFile',
  MODELGATE_TLS_KEY_FILE: 'server.tls.keyFile',
  MODELGATE_DATA_DIR: 'storage.dataDir',
  MODELGATE_CONTROL_BACKEND: 'control.backend',
  MODELGATE_WARM_UP_CHANGES: 'control.warmUpChanges',
  MODELGATE_REDIS_URL: 'redis.url',
  MODELGATE_REDIS_PREFIX: 'redis.prefix',
  MODELGATE_ANTI_ENTROPY_MS: 'redis.antiEntropyMs',
  MODELGATE_NODE_EXPIRY_SECONDS: 'redis.nodeExpirySeconds',
  MODELGATE_BLOBS_BACKEND: 'blobs.backend',
  MODELGATE_MAX_BLOB_BYTES: 'blobs.maxBlobBytes',
  MODELGATE_S3_BUCKET: 'blobs.s3.bucket',
  MODELGATE_S3_REGION: 'blobs.s3.region',
  MODELGATE_S3_ENDPOINT: 'blobs.s3.endpoint',
  MODELGATE_S3_PREFIX: 'blobs.s3.prefix',
  MODELGATE_S3_FORCE_PATH_STYLE: 'blobs.s3.forcePathStyle',
  MODELGATE_BLOB_CACHE_DIR: 'blobs.cache.dir',
  MODELGATE_BLOB_CACHE_MAX_BYTES: 'blobs.cache.maxBytes',
  MODELGATE_UPLOAD_TTL_SECONDS: 'uploads.sessionTtlSeconds',
  MODELGATE_UPLOAD_SWEEP_SECONDS: 'uploads.sweepIntervalSeconds',
  MODELGATE_HUB_PART_BYTES: 'uploads.hubPartBytes',
  MODELGATE_HASH_THREADS: 'hashing.threads',
  MODELGATE_WATCH_MAX_BACKPRESSURE: 'watch.maxBackpressureBytes',
  MODELGATE_LOG_LEVEL: 'log.level',
  MODELGATE_ADMIN_TOKEN: 'auth.adminToken',
  MODELGATE_RETENTION_DAYS: 'retention.unprotectedVersionDays',
  MODELGATE_RETENTION_EVIDENCE_DAYS: 'retention.evidenceVersionDays',
  MODELGATE_GC_GRACE_SECONDS: 'gc.graceSeconds',
  MODELGATE_CHECKPOINT_KEY_FILE: 'checkpoints.keyFile',
  MODELGATE_CHECKPOINT_RETIRED_KEY_FILES: 'checkpoints.retiredKeyFiles',
  MODELGATE_CHECKPOINT_INTERVAL_SECONDS: 'checkpoints.intervalSeconds',
  MODELGATE_STACK_MAX_DEPTH: 'stacks.maxDepth',
  MODELGATE_STACK_MAX_COMPONENTS: 'stacks.maxComponents',
  MODELGATE_GC_KEEPS_LINEAGE_PARENTS: 'stacks.gcKeepsLineageParents',
  MODELGATE_FLEET_ENABLED: 'fleet.enabled',
  MODELGATE_FLEET_NODE_NAME: 'fleet.nodeName',
  MODELGATE_FLEET_TRUSTED_PROXIES: 'fleet.trustedProxies',
  MODELGATE_FLEET_FLUSH_MS: 'fleet.flushIntervalMs',
  MODELGATE_FLEET_MAX_PENDING: 'fleet.maxPendingEntries',
  MODELGATE_FLEET_MAX_RECORDS: 'fleet.maxRecords',
  MODELGATE_FLEET_SILENCE_SECONDS: 'fleet.instanceSilenceSeconds',
  MODELGATE_FLEET_STRAGGLER_SECONDS: 'fleet.stragglerWindowSeconds',
  MODELGATE_FLEET_RETENTION_DAYS: 'fleet.retentionDays',
  MODELGATE_FLEET_MAX_REPORT_FILES: 'fleet.maxReportFiles',
  MODELGATE_FLEET_WATCH_SECONDS: 'fleet.watchIntervalSeconds',
  MODELGATE_SIGNING_TRUSTED_KEYS: 'signing.trustedKeys',
  MODELGATE_WEBHOOKS_ALLOW_PRIVATE: 'webhooks.allowPrivateNetworks',
  MODELGATE_WEBHOOKS_TIMEOUT_SECONDS: 'webhooks.timeoutSeconds',
  MODELGATE_WEBHOOKS_MAX_AGE_SECONDS: 'webhooks.maxAgeSeconds',
  MODELGATE_WEBHOOKS_RETRY_BASE_MS: 'webhooks.retryBaseMs',
  MODELGATE_WEBHOOKS_RETRY_MAX_SECONDS: 'webhooks.retryMaxSeconds',
  MODELGATE_WEBHOOKS_CONCURRENCY: 'webhooks.concurrency',
  MODELGATE_WEBHOOKS_LEASE_SECONDS: 'webhooks.leaseSeconds',
  MODELGATE_WEBHOOKS_POLL_MS: 'webhooks.pollMs',
  MODELGATE_WEBHOOKS_ROTATION_GRACE_SECONDS: 'webhooks.rotationGraceSeconds',
};
