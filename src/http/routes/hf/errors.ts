// The Hub's three not-found refusals, as huggingface_hub tells them apart (X-Error-Code). They are
// rendered, like every HF route's failure, by the error pipeline's Hub dialect (src/http/errors/hf-dialect.ts).
import { HfError } from '../../errors/hf-dialect.js';

export { HfError };

export const repoNotFound = (name: string, why = 'does not exist') =>
  new HfError(404, 'RepoNotFound', `Repository "${name}" not found: the model ${why}`);

export const revisionNotFound = (name: string, revision: string, why = 'is not an alias, v<N>, main or a commit id of this model') =>
  new HfError(404, 'RevisionNotFound', `Invalid rev id: "${revision}" of ${name} ${why}`);

export const entryNotFound = (name: string, revision: string, path: string, commit: string, what = 'file') =>
  new HfError(404, 'EntryNotFound', `${name}@${revision} (commit ${commit}) has no ${what} "${path}"`, { 'X-Repo-Commit': commit });
