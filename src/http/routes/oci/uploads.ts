// The blob upload flow of the distribution spec on top of modelgate's resumable upload sessions:
// POST (session, monolithic ?digest=, or cross-repository ?mount=&from=), PATCH chunks with or
// without Content-Range, PUT ?digest= with an optional last chunk, GET status, DELETE.
import { DomainError } from '../../../domain/errors.js';
import { ociError } from '../../errors/oci-dialect.js';
import { EMPTY_JSON_DIGEST } from '../../../oci/media-types.js';
import { assertDigest, assertModelName, isModelName } from '../../../domain/names.js';
import type { AppContext } from '../../app-context.js';
import type { Exchange } from '../../exchange.js';
import { guard } from '../../guard.js';
import { blobVisible } from './blobs.js';
import { sendEmpty } from './respond.js';
import { appendToSession, receiveBlob } from '../../blob-intake.js';
import type { SessionState } from '../../../blobs/upload-sessions.js';

export function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

/** `Range: 0-<last byte>` as the spec writes it (no "bytes="); an empty upload reads `0-0`, as in docker's registry. */
export function ociRange(offset: number): string {
  return `0-${Math.max(0, offset - 1)}`;
}

function sessionHeaders(name: string, session: SessionState): Record<string, string> {
  return {
    Location: uploadLocation(name, session.id),
    'Docker-Upload-UUID': session.id,
    Range: ociRange(session.offset),
  };
}

/** A chunk at the wrong offset: 416 with where the upload stands, in the spec's terms. */
function inSpecTerms(err: unknown, name: string, id: string): unknown {
  if (err instanceof DomainError && err.code === 'UPLOAD_OFFSET_MISMATCH') {
    const offset = (err.details as { offset: number }).offset;
    return ociError(
      416,
      'BLOB_UPLOAD_INVALID',
      err.message,
      { offset },
      {
        Location: uploadLocation(name, id),
        'Docker-Upload-UUID': id,
        Range: ociRange(offset),
      },
    );
  }
  return err;
}

function blobCreated(x: Exchange, name: string, digest: string): void {
  sendEmpty(x, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
}

/** POST /v2/{name}/blobs/uploads/ */
export async function startUpload(ctx: AppContext, x: Exchange, name: string): Promise<void> {
  x.route = 'oci.upload.start';
  const principal = guard(ctx, x, 'writer', name, 'blob upload');
  assertModelName(name);
  const mount = x.param('mount');
  const digestParam = x.param('digest');

  if (digestParam !== '' && mount === '') {
    // Monolithic upload in one POST: the body is the blob. Reception starts synchronously.
    x.route = 'oci.upload.monolithic';
    const digest = assertDigest(digestParam);
    const release = ctx.blobGuard.pin([digest]);
    try {
      await receiveBlob(ctx, x, digest, blobVisible(ctx, principal, name, digest));
    } finally {
      release();
    }
    blobCreated(x, name, digest);
    return;
  }

  if (mount !== '') {
    x.route = 'oci.upload.mount';
    const digest = assertDigest(mount, 'mount digest');
    const from = x.param('from');
    // Mounted only when the caller may read the blob through `from` (the spec lets a registry
    // ignore `from`; a token scoped to "*" may read every blob, so for it `from` may be omitted).
    const source = from === '' ? (principal.scope === '*' ? name : null) : isModelName(from) ? from : null;
    if (
      source !== null &&
      blobVisible(ctx, principal, source, digest) &&
      (digest === EMPTY_JSON_DIGEST || (await ctx.blobs.stat(digest)))
    ) {
      blobCreated(x, name, digest);
      return;
    }
    // Otherwise a plain upload session, as the spec asks (202).
  }

  const session = await ctx.uploads.create(principal);
  sendEmpty(x, 202, sessionHeaders(name, session));
}

/** GET/HEAD <location>: where the upload stands. */
export async function uploadStatus(ctx: AppContext, x: Exchange, name: string, id: string): Promise<void> {
  x.route = 'oci.upload.status';
  const principal = guard(ctx, x, 'writer', name, 'blob upload');
  assertModelName(name);
  sendEmpty(x, 204, sessionHeaders(name, await ctx.uploads.get(id, principal)));
}

/** PATCH <location>: one chunk (Content-Range a-b) or the rest of the stream (no Content-Range). */
export async function patchUpload(ctx: AppContext, x: Exchange, name: string, id: string): Promise<void> {
  x.route = 'oci.upload.patch';
  const principal = guard(ctx, x, 'writer', name, 'blob upload');
  assertModelName(name);
  let session: SessionState;
  try {
    session = x.hasBody ? await appendToSession(ctx, x, id, principal) : await ctx.uploads.get(id, principal);
  } catch (err) {
    throw inSpecTerms(err, name, id);
  }
  sendEmpty(x, 202, sessionHeaders(name, session));
}

/** PUT <location>?digest=: optional last chunk, then verify and commit. */
export async function finishUpload(ctx: AppContext, x: Exchange, name: string, id: string): Promise<void> {
  x.route = 'oci.upload.finish';
  const principal = guard(ctx, x, 'writer', name, 'blob upload');
  assertModelName(name);
  const digestParam = x.param('digest');
  if (digestParam === '') throw ociError(400, 'DIGEST_INVALID', 'the closing PUT needs ?digest=sha256:<hex> of the whole blob');
  const digest = assertDigest(digestParam);
  const release = ctx.blobGuard.pin([digest]);
  try {
    try {
      if (x.hasBody) await appendToSession(ctx, x, id, principal);
      else await ctx.uploads.get(id, principal);
    } catch (err) {
      throw inSpecTerms(err, name, id);
    }
    await ctx.uploads.commit(id, digest);
  } finally {
    release();
  }
  blobCreated(x, name, digest);
}

/** DELETE <location>: cancel; the bytes are removed. */
export async function cancelUpload(ctx: AppContext, x: Exchange, name: string, id: string): Promise<void> {
  x.route = 'oci.upload.cancel';
  const principal = guard(ctx, x, 'writer', name, 'blob upload');
  assertModelName(name);
  await ctx.uploads.cancel(id, principal);
  sendEmpty(x, 204, {});
}
