// Referrers (distribution spec 1.1): a manifest whose `subject` names a manifest of this model (a
// cosign or notation signature, an SBOM, an attestation) is attached to the version its subject
// stands for instead of registering a version: the registry records it through the registry's own
// commit (audited as a `manifest.push` with its subject), keeps its bytes, config and layers while
// that version exists, never serves it as the version's manifest, and lists it at
// GET /v2/{name}/referrers/{digest}. A subject this registry does not hold is refused: a referrer
// belongs to a version, and there is none to attach it to.
import type { Principal } from '../../../domain/principal.js';
import type { HttpError } from '../../errors/http-error.js';
import { ociError } from '../../errors/oci-dialect.js';
import { assertDigest } from '../../../domain/names.js';
import type { ParsedManifest } from '../../../oci/manifest.js';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, OCI_INDEX } from '../../../oci/media-types.js';
import type { AppContext } from '../../app-context.js';
import { storeBytes } from '../../blob-intake.js';
import type { Exchange } from '../../exchange.js';
import { guard } from '../../guard.js';
import { assertRepository, checkBlobs, find } from './stored-manifests.js';
import { API_VERSION, sendEmpty } from './respond.js';
import type { OciState } from './state.js';

/** PUT of a manifest with a subject (by digest: the caller checked the digest it was pushed under). */
export async function attachReferrer(
  ctx: AppContext,
  state: OciState,
  x: Exchange,
  name: string,
  manifest: ParsedManifest & { subject: { digest: string } },
  bytes: Buffer,
  principal: Principal,
): Promise<void> {
  const subject = manifest.subject.digest;
  const target = await find(ctx, state, name, subject, { kind: 'digest', digest: subject }).catch((err: HttpError) => {
    if (err?.status !== 404) throw err;
    throw ociError(
      400,
      'MANIFEST_INVALID',
      `the subject ${subject} is not a manifest of ${name}: push the manifest it refers to first (a referrer is attached to a version)`,
      { subject },
    );
  });
  const release = ctx.blobGuard.pin([manifest.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]);
  try {
    await checkBlobs(ctx, state, name, manifest);
    if ([manifest.config, ...manifest.layers].some((d) => d.digest === EMPTY_JSON_DIGEST))
      await storeBytes(ctx, EMPTY_JSON_DIGEST, EMPTY_JSON);
    await storeBytes(ctx, manifest.digest, bytes);
    await ctx.registry.attachManifest(
      name,
      {
        digest: manifest.digest,
        mediaType: manifest.mediaType,
        size: manifest.size,
        configDigest: manifest.config.digest,
        version: target.version.version,
        subject,
        artifactType: manifest.artifactType ?? manifest.config.mediaType,
        ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
        blobs: [...new Set(manifest.layers.map((l) => l.digest))],
      },
      principal,
    );
    state.remember(manifest.digest, bytes);
    sendEmpty(x, 201, {
      Location: `/v2/${name}/manifests/${manifest.digest}`,
      'Docker-Content-Digest': manifest.digest,
      'OCI-Subject': subject,
      'X-Model-Version': String(target.version.version),
    });
  } finally {
    release();
  }
}

/**
 * GET /v2/{name}/referrers/{digest}[?artifactType=]: an image index of the manifests attached to
 * that manifest, oldest first (empty for a manifest with none, as the spec asks, and for one this
 * model does not hold).
 */
export function listReferrers(ctx: AppContext, x: Exchange, name: string, digest: string): void {
  x.route = 'oci.referrers';
  guard(ctx, x, 'reader', name, 'referrers');
  assertRepository(ctx, name);
  assertDigest(digest);
  const wanted = x.param('artifactType');
  const manifests = ctx.registry
    .referrers(name, digest)
    .filter((m) => wanted === '' || m.artifactType === wanted)
    .map((m) => ({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      ...(m.artifactType !== undefined ? { artifactType: m.artifactType } : {}),
      ...(m.annotations !== undefined ? { annotations: m.annotations } : {}),
    }));
  const headers: Record<string, string> = { ...API_VERSION, 'Content-Type': OCI_INDEX };
  if (wanted !== '') headers['OCI-Filters-Applied'] = 'artifactType';
  x.send(200, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })), headers);
}
