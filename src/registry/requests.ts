// Shapes of request bodies. Unknown fields are refused so that a typo never passes silently.
import { z } from 'zod';
import { badRequest } from '../errors.js';

export const MAX_FILES_PER_VERSION = 10_000;
const MAX_METADATA_BYTES = 256 * 1024;

const versionNumber = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const reason = z.string().max(1000).optional();

const metadata = z
  .record(z.string(), z.unknown())
  .refine((m) => JSON.stringify(m).length <= MAX_METADATA_BYTES, `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON`);

export const registerVersionBody = z.strictObject({
  files: z
    .array(
      z.strictObject({
        path: z.string(),
        size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
        digest: z.string(),
      }),
    )
    .min(1, 'a version needs at least one file')
    .max(MAX_FILES_PER_VERSION),
  metadata: metadata.optional(),
});

export const updateVersionBody = z.strictObject({ metadata });

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

export const createModelBody = z.strictObject({
  name: z.string(),
  description: z.string().max(4096).optional(),
  owner: z.string().max(256).optional(),
  tags: z.array(z.string().max(64)).max(64).optional(),
});

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = problems[0]!;
  throw badRequest('VALIDATION_FAILED', `${first.path || 'body'}: ${first.message}`, problems);
}
