// DELETE /v2/{name}/manifests/{digest|tag}: the distribution spec's content management, mapped onto
// the registry's own rules. A manifest stands for a version, so deleting it by digest deletes that
// version through the same rule as DELETE /v1/models/{name}/versions/{n} (admin only; refused while
// an alias or a stack holds it or retention keeps it), and every manifest of that version (pushed
// or generated) is gone with it. Deleting an alias tag deletes the alias as DELETE
// /v1/models/{name}/aliases/{alias} does (its policy's mover role, gates and audit). A `v<N>` tag is
// the version's own name, not a pointer to it: it is not deleted on its own.
import { deleteVersionBody, parseBody } from '../../../domain/requests.js';
import { ociError } from '../../errors/oci-dialect.js';
import type { AppContext } from '../../app-context.js';
import type { Exchange } from '../../exchange.js';
import { guard } from '../../guard.js';
import { assertRepository, find } from './stored-manifests.js';
import { parseManifestRef } from './protocol.js';
import { sendEmpty } from './respond.js';
import type { OciState } from './state.js';

export async function deleteManifest(ctx: AppContext, state: OciState, x: Exchange, name: string, reference: string): Promise<void> {
  x.route = 'oci.manifest.delete';
  const ref = parseManifestRef(reference);
  if (ref.kind === 'alias') {
    const principal = guard(ctx, x, ctx.registry.moverRole(ref.alias), name, `deleting @${ref.alias} by tag deletion`);
    assertRepository(ctx, name);
    await ctx.registry.deleteAlias(name, ref.alias, undefined, principal);
    sendEmpty(x, 202, {});
    return;
  }
  if (ref.kind !== 'digest') {
    // Whoever asks: this is what the method does to this kind of resource, not a permission.
    throw ociError(
      405,
      'UNSUPPORTED',
      `tag "${reference}" is not deleted on its own: ${ref.kind === 'version' ? `v<N> names version ${ref.version} itself; delete its manifest by digest to delete the version` : 'tags are modelgate aliases or v<N>'}`,
      { tag: reference },
      { Allow: 'GET, HEAD, PUT' },
    );
  }
  const principal = guard(ctx, x, 'admin', name, 'manifest deletion');
  assertRepository(ctx, name);
  const served = await find(ctx, state, name, reference, ref);
  // The OCI API carries no body: the reason comes as ?reason=, checked as the v1 body's is.
  const given = x.param('reason');
  const reason =
    given === '' ? `manifest ${ref.digest} deleted through the OCI API` : parseBody(deleteVersionBody, { reason: given }).reason;
  await ctx.registry.deleteVersion(name, served.version.version, reason, principal);
  sendEmpty(x, 202, {});
}
