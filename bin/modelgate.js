#!/usr/bin/env node
// Thin launcher so `npx modelgate` works from a checkout and `modelgate` after a global install;
// the CLI itself is compiled TypeScript, bundled into dist/cli/ (scripts/build-cli.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = fileURLToPath(new URL('../dist/cli/modelgate.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write('modelgate: not built yet; run `npm run build` (or `npm ci`, which builds) first\n');
  process.exit(1);
}
await import(pathToFileURL(entry).href);
