// POST /api/repos/create (huggingface_hub `create_repo`, @huggingface/hub `createRepo`): a new model
// with no versions, the Hub's empty repo. Its first commit registers v1. Only model repos exist
// here; an existing one answers 409, which `create_repo(exist_ok=True)` takes as success.
import { assertModelName } from '../../../domain/names.js';
import { DomainError } from '../../../domain/errors.js';
import type { AppContext } from '../../app-context.js';
import type { Exchange } from '../../exchange.js';
import { guard } from '../../guard.js';
import { readJson } from '../../json-body.js';
import { methodNotAllowed } from '../../route-errors.js';
import type { Origin } from './api-models.js';
import { HfError } from './errors.js';

export async function createRepo(ctx: AppContext, x: Exchange, origin: Origin): Promise<void> {
  if (x.method !== 'POST') methodNotAllowed(x, ['POST']);
  x.route = 'hf.repos.create';
  const principal = guard(ctx, x, 'writer', null, 'model creation');
  const body = (await readJson(x, ctx.config.server.maxJsonBytes)) as Record<string, unknown>;
  const { name, organization, type } = body ?? {};
  if (type !== undefined && type !== null && type !== 'model')
    throw new HfError(400, null, `only model repositories exist here, not "${String(type)}"`);
  if (typeof name !== 'string' || (organization !== undefined && organization !== null && typeof organization !== 'string')) {
    throw new HfError(400, null, 'name (and optionally organization) must be strings');
  }
  const full = assertModelName(organization ? `${organization}/${name}` : name);
  ctx.auth.authorize(principal, 'writer', full, 'model creation');
  try {
    await ctx.registry.createModel(full, { description: '', owner: principal.name, tags: [] }, principal);
  } catch (err) {
    // huggingface_hub's create_repo(exist_ok=True) reads the url from this 409's body.
    if (err instanceof DomainError && err.code === 'MODEL_EXISTS') {
      throw new HfError(409, null, `You already created this model repo: ${full}`, undefined, { url: `${origin.base}/${full}` });
    }
    throw err;
  }
  x.json(200, { url: `${origin.base}/${full}`, name: full, id: full });
}
