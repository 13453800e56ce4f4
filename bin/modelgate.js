#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS MODELGATE_LAUNCH_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// Thin launcher so `npx modelgate` works from a checkout and `modelgate` after a global install;
// the CLI itself is compiled TypeScript, bundled into dist/cli/ (scripts/build-cli.ts).
//
// Why the `env -S` line: with NODE_EXTRA_CA_CERTS set (common where a company CA is trusted),
// Node 20 builds its whole certificate store at start-up, before any code runs: 40-100 ms here,
// more than everything else a `modelgate pull` does before its first request. A command that
// talks plain http needs no certificate, so the line starts Node without the variable and hands
// its value over under another name. A command that may need it (`serve`, whose backends can use
// TLS, or an https server URL) starts again at once with the variable back, so it trusts exactly
// what it trusted before; `node bin/modelgate.js …` (no shebang) runs with the variable as set.
// `serve` also starts again, at once, when this Node lacks the flags the service runs with
// (src/cli/serve-node-flags.ts: V8 sizes its heap at start-up, so they cannot be set later).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const extraCaCerts = process.env.MODELGATE_LAUNCH_EXTRA_CA_CERTS;
delete process.env.MODELGATE_LAUNCH_EXTRA_CA_CERTS;

/** Whether this command may open a TLS connection: `serve`, or any https URL on the command line or in MODELGATE_URL. */
function mayUseTls(args, env) {
  if (args[0] === 'serve') return true;
  return args.some((arg) => /https:/i.test(arg)) || /^\s*https:/i.test(env.MODELGATE_URL ?? '');
}

/**
 * Runs this same command again in a Node with the extra certificates loaded (when given) and the
 * Node flags `flags` added, and ends as it ends.
 */
function relaunch(certificates, flags) {
  const child = spawn(process.execPath, [...process.execArgv, ...flags, ...process.argv.slice(1)], {
    stdio: 'inherit',
    // Its pid: a service started this way stops if this launcher is killed outright (serve.ts).
    env: { ...process.env, ...(certificates ? { NODE_EXTRA_CA_CERTS: certificates } : {}), MODELGATE_LAUNCHER_PID: String(process.pid) },
  });
  // Ctrl-C reaches the child from the terminal itself (same process group): wait for it to finish
  // shutting down rather than leave it behind, and pass on the signals a supervisor sends.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGQUIT']) process.on(signal, () => child.kill(signal));
  child.on('error', (err) => {
    process.stderr.write(`modelgate: could not start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}

/** The Node flags `serve` needs on Node's command line and this Node lacks (src/cli/serve-node-flags.ts). */
async function missingServeFlags() {
  const module = new URL('../dist/src/cli/serve-node-flags.js', import.meta.url);
  if (!existsSync(fileURLToPath(module))) return [];
  return (await import(module.href)).missingServeFlags(process.execArgv);
}

const args = process.argv.slice(2);
const certificates = extraCaCerts && mayUseTls(args, process.env) ? extraCaCerts : undefined;
const flags = args[0] === 'serve' ? await missingServeFlags() : [];
if (certificates || flags.length > 0) {
  relaunch(certificates, flags);
} else {
  // Child processes see the variable as the user set it.
  if (extraCaCerts) process.env.NODE_EXTRA_CA_CERTS = extraCaCerts;
  const entry = fileURLToPath(new URL('../dist/cli/modelgate.js', import.meta.url));
  if (!existsSync(entry)) {
    process.stderr.write('modelgate: not built yet; run `npm run build` (or `npm ci`, which builds) first\n');
    process.exit(1);
  }
  await import(pathToFileURL(entry).href);
}
