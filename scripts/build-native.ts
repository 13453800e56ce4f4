// Compiles the native addons into dist/native/ (run by `npm run build` after tsc):
// - native/mapped-range.c → mapped-range.node: downloads map blob ranges with it (src/http/mapped-source.ts);
// - native/send-file.c → send-file.node: `modelgate push` sends files with sendfile(2) (src/client/file-send.ts);
// - native/socket-send.cc → socket-send.node: downloads over plain http send blob files with sendfile(2)
//   (src/http/socket-send.ts); C++ for V8's object API, which N-API has no call for.
// - native/peer-address.cc → peer-address.node: fleet telemetry reads a request's peer address from
//   what accept saw (src/http/peer-address.ts); C++ for the same reason.
// All are optional: with no C compiler or no Node headers here the build says so and goes on, and
// downloads read with pread and uploads read the file (the service's start log says which it uses).
// Node's own headers are the ones next to the running node (include/node), which `node` images and
// distribution packages ship, so no download is needed (node-gyp would fetch headers for an official build).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const headers = [join(dirname(dirname(process.execPath)), 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((dir) =>
  existsSync(join(dir, 'node_api.h')),
);
const addons = [
  { name: 'mapped-range', without: 'downloads will use pread' },
  { name: 'send-file', without: 'uploads will read the file' },
  { name: 'socket-send', without: 'downloads will copy into the socket', cplusplus: true },
  { name: 'peer-address', without: 'fleet telemetry will read peer addresses through uWS', cplusplus: true },
];

for (const { name, without, cplusplus } of addons) {
  const source = join(root, 'native', `${name}.${cplusplus ? 'cc' : 'c'}`);
  const target = join(root, 'dist', 'native', `${name}.node`);
  rmSync(target, { force: true });
  // The folder exists either way, so an image build can copy it whether or not the addon was built.
  mkdirSync(dirname(target), { recursive: true });
  if (process.platform !== 'linux') {
    console.log(`native addon ${name}: not built (Linux only); ${without}`);
    continue;
  }
  if (!headers) {
    console.log(`native addon ${name}: not built (no node_api.h next to this node); ${without}`);
    continue;
  }
  const args = [
    '-O2',
    '-Wall',
    '-Wextra',
    '-shared',
    '-fPIC',
    '-pthread',
    // Only V8's inline object calls are C++: no exceptions, no RTTI, no C++ library calls (it links libc alone).
    ...(cplusplus ? ['-std=c++17', '-fno-exceptions', '-fno-rtti'] : []),
    '-DNAPI_VERSION=8',
    `-DNODE_GYP_MODULE_NAME=${name.replace(/-/g, '_')}`,
    // -isystem: the warnings of V8's own headers are not ours to fix.
    '-isystem',
    headers,
    source,
    '-o',
    target,
  ];
  // $CC (or $CXX), else cc (c++), else gcc (g++): a Debian gcc without the cc alternative.
  const fromEnv = cplusplus ? process.env.CXX : process.env.CC;
  const compilers = fromEnv ? [fromEnv] : cplusplus ? ['c++', 'g++'] : ['cc', 'gcc'];
  let cc = compilers[0]!;
  let result = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const next of compilers.slice(1)) {
    if (!result.error) break;
    cc = next;
    result = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  if (result.status === 0) console.log(`native addon: built ${target.slice(root.length)}`);
  else
    console.log(
      `native addon ${name}: not built (${result.error ? `${cc}: ${result.error.message}` : `${cc} exited ${result.status}`}); ${without}`,
    );
}
