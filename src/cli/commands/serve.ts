import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../config/load.js';
import { logger } from '../../log.js';
import { assertNativeLmdb, assertNativeUws, NativeModuleError } from '../../native-check.js';
import { CliError } from '../cli-error.js';
import { missingServeFlags } from '../serve-node-flags.js';

const usage = `usage: modelgate serve [--host H] [--port P] [--data-dir D] [--config FILE]

Runs the gateway. Settings come from config/default.yaml, then --config FILE, then MODELGATE_*
environment variables, then these flags (see the README's Configuration section).

  --host H          listen address (server.host, default 127.0.0.1)
  --port P          listen port (server.port, default 8080; 0 picks a free one)
  --data-dir D      LMDB index and local blobs (storage.dataDir, default ./data)
  --config FILE     a YAML file overriding config/default.yaml
  -h, --help        print this help
`;

export async function run(argv: string[]): Promise<number> {
  let values: { host?: string; port?: string; 'data-dir'?: string; config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    if (err instanceof TypeError) throw new CliError(`${err.message}\n\n${usage}`, 2);
    throw err;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }

  try {
    assertNativeUws();
    assertNativeLmdb();
  } catch (err) {
    if (err instanceof NativeModuleError) throw new CliError(`refusing to start: ${err.message}`, 3);
    throw err;
  }

  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({
      file: values.config,
      overrides: { 'server.host': values.host, 'server.port': values.port, 'storage.dataDir': values['data-dir'] },
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
  logger.level = config.log.level;
  const missingFlags = missingServeFlags(process.execArgv);
  if (missingFlags.length > 0) {
    // Started as `node dist/src/cli/main.js serve` rather than through bin/modelgate.js, which adds them.
    logger.warn(
      { missing: missingFlags },
      `node runs without ${missingFlags.join(' ')}: garbage collection pauses will lengthen the tail of a change's propagation; start with \`modelgate serve\` (bin/modelgate.js), or give node these flags`,
    );
  }

  // Imported only after the native checks so a fallback module never gets to start.
  const { startService } = await import('../../service.js');
  const service = await startService(config);
  if (service.createdAdminToken) {
    process.stderr.write(
      `\nmodelgate: created the bootstrap admin token. It is shown once and only its hash is kept:\n\n  ${service.createdAdminToken}\n\n`,
    );
  }
  logger.info({ host: service.host, port: service.port, dataDir: config.storage.dataDir }, 'listening');

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      service.shutdown(signal).then(resolve, (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    stopWhenLauncherGoes(() => stop('launcher gone'));
  });
  // Idle keep-alive connections would hold the loop open; the stores are closed, so leave now.
  process.exit(0);
}

/** How often a service started by bin/modelgate.js checks that the launcher is still its parent. */
const LAUNCHER_CHECK_MS = 1000;

/**
 * When bin/modelgate.js started this service (it passes its pid as MODELGATE_LAUNCHER_PID), shuts
 * it down once the launcher is gone: a launcher killed outright (SIGKILL, which it cannot pass
 * on) would otherwise leave the service running, orphaned, on its port.
 */
function stopWhenLauncherGoes(stop: () => void): void {
  const launcher = Number(process.env.MODELGATE_LAUNCHER_PID);
  delete process.env.MODELGATE_LAUNCHER_PID;
  if (!Number.isInteger(launcher) || launcher !== process.ppid) return;
  const timer = setInterval(() => {
    if (process.ppid === launcher) return;
    clearInterval(timer);
    logger.warn({ launcher }, 'the launcher (bin/modelgate.js) is gone: shutting down');
    stop();
  }, LAUNCHER_CHECK_MS);
  timer.unref();
}
