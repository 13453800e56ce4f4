// Where a model file lands on disk. File paths come from the server, so they are treated as
// untrusted: anything that could point outside the target directory is refused, and directories
// are created one level at a time so a symlinked directory cannot redirect a write elsewhere.
import { lstat, mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { filePathProblem } from '../../domain/names.js';
import { CliError } from '../cli-error.js';
import { WORK_DIR_NAME } from './work-dir.js';

/** Absolute path of model file `filePath` under `root` (itself absolute), or a CliError. */
export function targetPath(root: string, filePath: string): string {
  const problem = filePathProblem(filePath);
  if (problem) throw new CliError(`refusing file path "${filePath}" from the server: ${problem}`);
  if (filePath.split('/')[0] === WORK_DIR_NAME) {
    throw new CliError(`refusing file path "${filePath}": ${WORK_DIR_NAME}/ is where pull keeps unfinished downloads`);
  }
  const target = join(root, ...filePath.split('/'));
  const rel = relative(root, target);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    throw new CliError(`refusing file path "${filePath}": it leads outside ${root}`);
  }
  return target;
}

/** Creates the directories between `root` and `target`, refusing any that is a symlink or not a directory. */
export async function ensureParentDirs(root: string, target: string): Promise<void> {
  const parts = relative(root, dirname(target))
    .split(sep)
    .filter((p) => p !== '');
  let current = root;
  for (const part of parts) {
    current = join(current, part);
    const info = await lstat(current).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (!info) {
      await mkdir(current).catch((err: NodeJS.ErrnoException) => {
        // Another file of the same pull may have created it in the meantime.
        if (err.code !== 'EEXIST') throw err;
      });
      continue;
    }
    if (info.isSymbolicLink()) throw new CliError(`refusing to write through the symlink ${current}`);
    if (!info.isDirectory()) throw new CliError(`cannot create ${target}: ${current} exists and is not a directory`);
  }
}
