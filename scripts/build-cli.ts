// Bundles the client CLI into dist/cli/ (run by `npm run build` after tsc). Node 20 loads ES
// modules one file at a time, and a pull loaded 44 of them; bundled, 17 files (the entry, the
// command's chunk, shared chunks, the hashing thread). bin/modelgate.js runs dist/cli/modelgate.js.
// Commands stay loaded on demand (one chunk each, shared code in common chunks), npm packages stay
// imports resolved at run time, and `serve` is not bundled: it imports the compiled server under
// dist/src/ (which the container image runs directly), with its workers, config and console.
import { build, type Plugin } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outdir = `${root}dist/cli`;

/** `serve` from dist/cli/ is the compiled server's own module in dist/src/. */
const serveUnbundled: Plugin = {
  name: 'serve-unbundled',
  setup(b) {
    b.onResolve({ filter: /^\.\/commands\/serve\.js$/ }, () => ({ path: '../src/cli/commands/serve.js', external: true }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  // The worker threads are entries of their own, beside the chunks that start them: the code finds
  // them as new URL('./<name>.js', import.meta.url) both here and in dist/src/.
  entryPoints: {
    modelgate: 'src/cli/main.ts',
    'prefix-hash-worker': 'src/cli/pull/prefix-hash-worker.ts',
    'hash-worker': 'src/cli/push/hash-worker.ts',
  },
  outdir,
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  plugins: [serveUnbundled],
  logLevel: 'warning',
});
