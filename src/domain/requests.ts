// Shapes of request bodies. Unknown fields are refused so that a typo never passes silently.
import { z } from 'zod';
import { badRequest } from './errors.js';
import { ROLES } from './principal.js';

export const MAX_FILES_PER_VERSION = 10_000;
export const MAX_RECORD_FIELD_BYTES = 64 * 1024;

const versionNumber = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const reason = z.string().max(1000).optional();
const text = (max: number) => z.string().max(max);

const bounded = <T extends z.ZodType>(schema: T, what: string) =>
  schema.refine(
    (v) => JSON.stringify(v).length <= MAX_RECORD_FIELD_BYTES,
    `${what} must be at most ${MAX_RECORD_FIELD_BYTES} bytes of JSON`,
  );

const metadata = bounded(
  z.looseObject({
    framework: text(200).optional(),
    architecture: text(200).optional(),
    parameters: z.number().int().nonnegative().optional(),
  }),
  'metadata',
);

const lineage = bounded(
  z.strictObject({
    datasets: z
      .array(
        z
          .strictObject({
            name: text(200).optional(),
            uri: text(2000).optional(),
            digest: z
              .string()
              .regex(/^sha256:[0-9a-f]{64}$/)
              .optional(),
          })
          .refine((d) => d.uri !== undefined || d.digest !== undefined, 'a dataset needs a uri or a digest'),
      )
      .max(100)
      .optional(),
    code: z.strictObject({ repo: text(2000), commit: text(200) }).optional(),
    // Any reference (alias, v<N>, digest): the registry resolves it and keeps it frozen as name@v<N>.
    parent: z
      .string()
      .max(300)
      .regex(/^[a-z0-9][a-z0-9._/-]*@[a-z0-9][a-z0-9:-]*$/, 'parent must be a reference like "team/model@v3"')
      .optional(),
    trainingRunId: text(200).optional(),
  }),
  'lineage',
);

const metricValue = z.union([
  z.number().finite(),
  z.strictObject({ value: z.number().finite(), dataset: text(200).optional(), split: text(100).optional() }),
]);

const metrics = bounded(
  z
    .record(z.string().regex(/^[A-Za-z0-9_.:/-]{1,100}$/, 'metric names are [A-Za-z0-9_.:/-], at most 100 characters'), metricValue)
    .transform((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v === 'number' ? { value: v } : v]))),
  'metrics',
);

const card = bounded(
  z.strictObject({
    intendedUse: text(16_000).optional(),
    outOfScopeUse: text(16_000).optional(),
    trainingData: text(16_000).optional(),
    evaluation: text(16_000).optional(),
    limitations: text(16_000).optional(),
    monitoring: text(16_000).optional(),
    contacts: z.array(text(200)).max(50).optional(),
  }),
  'card',
);

export const registerVersionBody = z
  .strictObject({
    files: z
      .array(
        z.strictObject({
          path: z.string(),
          size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
          digest: z.string(),
        }),
      )
      .max(MAX_FILES_PER_VERSION)
      .default([]),
    /** A stack's components: name → reference; the registry freezes each to a version digest. */
    components: z.record(z.string().max(100), z.string().max(300)).optional(),
    metadata: metadata.optional(),
    lineage: lineage.optional(),
    metrics: metrics.optional(),
    card: card.optional(),
  })
  .refine((b) => b.files.length > 0 || Object.keys(b.components ?? {}).length > 0, {
    message: 'a version needs at least one file (a stack: a file or a component)',
    path: ['files'],
  });

export const updateVersionBody = z
  .strictObject({
    metadata: metadata.optional(),
    lineage: lineage.optional(),
    metrics: metrics.optional(),
    card: card.optional(),
    status: z.literal('deprecated').optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'nothing to update: give metadata, lineage, metrics, card or status');

export const approvalBody = z.strictObject({
  decision: z.enum(['approve', 'reject']),
  comment: text(4000).optional(),
  /** The record digest the approver reviewed: refused if the record has changed since. */
  recordDigest: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, 'recordDigest is sha256:<64 lowercase hex>')
    .optional(),
});

export const retireBody = z.strictObject({ reason });

export const setAliasBody = z.strictObject({
  version: versionNumber,
  expectedVersion: versionNumber.nullable().optional(),
  reason,
});

export const rollbackBody = z.strictObject({
  toVersion: versionNumber.optional(),
  expectedVersion: versionNumber.optional(),
  reason,
});

const modelInfo = {
  description: text(4096).optional(),
  owner: text(256).optional(),
  tags: z
    .array(z.string().regex(/^[a-z0-9][a-z0-9._:-]{0,63}$/, 'tags are lowercase [a-z0-9._:-], at most 64 characters'))
    .max(64)
    .optional(),
};

export const createModelBody = z.strictObject({ name: z.string(), ...modelInfo });
export const updateModelBody = z.strictObject(modelInfo).refine((b) => Object.keys(b).length > 0, 'nothing to update');

export const createTokenBody = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}$/, 'token names are letters, digits, space and ._@-, at most 100 characters'),
    role: z.enum(ROLES as [string, ...string[]]),
    scope: z.string().default('*'),
    expiresAt: z.iso.datetime({ offset: true }).optional(),
    ttlSeconds: z
      .number()
      .int()
      .positive()
      .max(10 * 365 * 86400)
      .optional(),
  })
  .refine((b) => !(b.expiresAt && b.ttlSeconds), 'give expiresAt or ttlSeconds, not both');

export const deleteVersionBody = z.strictObject({ reason: z.string().min(1).max(1000) });

export const gcBody = z.strictObject({ dryRun: z.boolean().default(false) });

export const blobVerifyBody = z.strictObject({ repair: z.boolean().default(false) });

/** POST /v1/control-plane/restore: the source must be named, so that nothing restores by accident. */
export const controlPlaneRestoreBody = z.strictObject({ fromReplica: z.literal(true) });

export const createWebhookBody = z.strictObject({
  url: z.string().min(1).max(2000),
  events: z.array(z.string().max(100)).min(1, 'events must name at least one event type, or "*"').max(100),
  scope: z.string().default('*'),
  description: text(1000).default(''),
});

export const rotateWebhookBody = z.strictObject({
  /** How long the secret(s) signing until now keep signing; the configured default when absent. */
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86400)
    .optional(),
});

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = problems[0]!;
  throw badRequest('VALIDATION_FAILED', `${first.path || 'body'}: ${first.message}`, problems);
}
