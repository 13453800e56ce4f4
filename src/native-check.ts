// uWebSockets.js from this package silently swaps in a slow pure-JS server when its native binary
// does not load. modelgate refuses to run on that fallback.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export class NativeModuleError extends Error {}

export function assertNativeUws(): void {
  if (['true', '1'].includes(String(process.env.UWS_USE_FALLBACK).toLowerCase())) {
    throw new NativeModuleError('UWS_USE_FALLBACK is set: modelgate will not run on the pure-JS fallback of uWebSockets.js; unset it');
  }
  const pkgDir = dirname(require.resolve('uWebSockets.js/package.json'));
  const binary = join(pkgDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  let native: { App?: unknown };
  try {
    native = require(binary) as { App?: unknown };
  } catch (err) {
    throw new NativeModuleError(
      `the native uWebSockets.js binary did not load (${binary}): ${(err as Error).message}\n` +
        `modelgate needs Node 20 on linux-x64/arm64 with glibc >= 2.36; it will not run on the slow JS fallback`,
    );
  }
  const loaded = require('uWebSockets.js') as { App?: unknown };
  if (loaded.App !== native.App) {
    throw new NativeModuleError('uWebSockets.js loaded its pure-JS fallback instead of the native binary; refusing to start');
  }
}

export function assertNativeLmdb(): void {
  try {
    const lmdb = require('lmdb') as { version?: { nodeCompiledVersion?: number } };
    if (!lmdb.version) throw new Error('no native version information');
  } catch (err) {
    throw new NativeModuleError(`the native lmdb binding did not load: ${(err as Error).message}`);
  }
}
