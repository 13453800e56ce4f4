// Bundles the client CLI into dist/cli/ (run by `npm run build` after tsc). Node 20 loads ES
// modules one file at a time, at a cost per file (resolve, realpath, read, link): a pull loaded 44
// compiled modules, 17 files with esbuild's code splitting (shared chunks), and loads 3 now: the
// entry, its command's file and its hashing thread's. Each command is a bundle of its own, shared
// code copied into each (no chunks: one file per command loads about 10 ms faster than the same
// code in a dozen chunks, measured on the pull's start-up here). Modules imported only on demand
// (a command from the entry, the Sigstore check of `pull --verify-signature`, the metadata reader
// of `push`) are bundles of their own too, so what they import loads only when they do; none of
// them shares state with its importer beyond what it is passed (CliError is recognised in any
// copy). npm packages stay imports resolved at run time, and `serve` is not bundled: it imports
// the compiled server under dist/src/ (which the container image runs directly), with its workers,
// config and console. bin/modelgate.js runs dist/cli/modelgate.js.
import { build, type Plugin } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outdir = `${root}dist/cli`;

/** Imported on demand by a command: a bundle of its own in dist/cli/, named after its file. */
const onDemand = ['src/cli/pull/signature-check.ts', 'src/cli/push/metadata-file.ts'];
/** The commands the entry imports by name (src/cli/main.ts), but `serve`. */
const commands = [...readFileSync(`${root}src/cli/main.ts`, 'utf8').matchAll(/import\('\.\/commands\/([\w-]+)\.js'\)/g)]
  .map((m) => m[1]!)
  .filter((name) => name !== 'serve')
  .map((name) => `src/cli/commands/${name}.ts`);

/**
 * The lazy imports stay imports, of the file the matching entry becomes (every output is flat in
 * dist/cli/), and `serve` from dist/cli/ is the compiled server's own module in dist/src/.
 */
const separateBundles: Plugin = {
  name: 'separate-bundles',
  setup(b) {
    b.onResolve({ filter: /^\.\/commands\/serve\.js$/ }, () => ({ path: '../src/cli/commands/serve.js', external: true }));
    const lazy = new Set([...commands, ...onDemand].map((f) => basename(f, '.ts')));
    b.onResolve({ filter: /^\.\.?\/(commands|pull|push)\/[\w-]+\.js$/ }, (args) => {
      const name = basename(args.path, '.js');
      return args.kind === 'dynamic-import' && lazy.has(name) ? { path: `./${name}.js`, external: true } : undefined;
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  // The worker threads are entries of their own, beside the bundles that start them: the code finds
  // them as new URL('./<name>.js', import.meta.url) both here and in dist/src/.
  entryPoints: {
    modelgate: 'src/cli/main.ts',
    'prefix-hash-worker': 'src/cli/pull/prefix-hash-worker.ts',
    'hash-worker': 'src/cli/push/hash-worker.ts',
    ...Object.fromEntries([...commands, ...onDemand].map((f) => [basename(f, '.ts'), f])),
  },
  outdir,
  entryNames: '[name]',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  plugins: [separateBundles],
  logLevel: 'warning',
});
