// Putting a verified file at its target paths. Each target is replaced by a rename, which is
// atomic and replaces a symlink in the way rather than writing through it.
import { constants } from 'node:fs';
import { copyFile, rename, rm } from 'node:fs/promises';
import { CliError } from '../cli-error.js';
import { ensureParentDirs } from './local-target.js';

/** `move` renames the source onto the last target (copies to the others); `copy` leaves the source alone. */
export async function placeFile(root: string, source: string, targets: readonly string[], mode: 'move' | 'copy'): Promise<void> {
  for (const [i, target] of targets.entries()) {
    try {
      await ensureParentDirs(root, target);
      if (mode === 'move' && i === targets.length - 1) await rename(source, target);
      else await copyThenRename(source, target);
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`cannot write ${target}: ${(err as Error).message}`);
    }
  }
}

async function copyThenRename(source: string, target: string): Promise<void> {
  const temporary = `${target}.modelgate-${process.pid}.tmp`;
  await rm(temporary, { force: true });
  await copyFile(source, temporary, constants.COPYFILE_EXCL);
  await rename(temporary, target);
}
