// Where pull keeps unfinished downloads: `<dir>/.modelgate/partial/<digest hex>` with a state
// file beside each, inside the target directory so a rename into place never crosses filesystems.
import { rmdir } from 'node:fs/promises';
import { join } from 'node:path';

export const WORK_DIR_NAME = '.modelgate';

export interface PartialPaths {
  data: string;
  state: string;
}

export function partialDir(root: string): string {
  return join(root, WORK_DIR_NAME, 'partial');
}

export function partialPaths(root: string, digestHex: string): PartialPaths {
  const data = join(partialDir(root), digestHex);
  return { data, state: `${data}.state.json` };
}

/** Removes the work directories once nothing is left in them; anything still unfinished keeps them. */
export async function removeEmptyWorkDirs(root: string): Promise<void> {
  for (const dir of [partialDir(root), join(root, WORK_DIR_NAME)]) {
    try {
      await rmdir(dir);
    } catch {
      return;
    }
  }
}
