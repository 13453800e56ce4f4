import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../config/load.js';
import { logger } from '../../log.js';
import { assertNativeLmdb, assertNativeUws, NativeModuleError } from '../../native-check.js';
import { CliError } from '../cli-error.js';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
    },
    strict: true,
  });

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
  });
  // Idle keep-alive connections would hold the loop open; the stores are closed, so leave now.
  process.exit(0);
}
