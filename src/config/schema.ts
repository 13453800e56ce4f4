import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

export const configSchema = z.strictObject({
  server: z.strictObject({
    host: z.string().min(1),
    port,
    maxJsonBytes: positiveInt,
    shutdownGraceSeconds: z.coerce.number().min(0),
  }),
  storage: z.strictObject({
    dataDir: z.string().min(1),
  }),
  blobs: z.strictObject({
    backend: z.enum(['fs']),
    maxBlobBytes: positiveInt,
  }),
  uploads: z.strictObject({
    sessionTtlSeconds: positiveInt,
    sweepIntervalSeconds: positiveInt,
  }),
  hashing: z.strictObject({
    threads: positiveInt.max(64),
  }),
  log: z.strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
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
  MODELGATE_DATA_DIR: 'storage.dataDir',
  MODELGATE_BLOBS_BACKEND: 'blobs.backend',
  MODELGATE_MAX_BLOB_BYTES: 'blobs.maxBlobBytes',
  MODELGATE_UPLOAD_TTL_SECONDS: 'uploads.sessionTtlSeconds',
  MODELGATE_UPLOAD_SWEEP_SECONDS: 'uploads.sweepIntervalSeconds',
  MODELGATE_HASH_THREADS: 'hashing.threads',
  MODELGATE_LOG_LEVEL: 'log.level',
  MODELGATE_ADMIN_TOKEN: 'auth.adminToken',
};
