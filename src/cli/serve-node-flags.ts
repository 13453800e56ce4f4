// The Node flags `serve` runs with, which must be on Node's command line (V8 sizes its heap when
// it starts, and NODE_OPTIONS refuses these): bin/modelgate.js starts `serve` again with them when
// they are missing, the bench and the tests start the service with them, and `serve` warns when
// run without them.
//
// --min-semi-space-size=16: V8 shrinks the young generation of a process that allocates little
// (under about 1 MB/s, a service between bursts of changes) to 1 MB, so every node scavenged every
// few dozen changes, each pause waiting for a core among the other processes. In the propagation
// bench (8 nodes, one Redis, 2 cores, 2026-12-07 on the AMD guest) the rollback's p99 over the
// turns was 19.2, 22.2 and 23.7 ms without the flag and 10.1, 9.51, 14.4, 18.8, 16.3 and 8.99 ms with it,
// with the nodes' CPU a round 16.2–18.5 ms against 14.4–16.3
// (bench/results/20261207T1526Z-young-generation.md). The cost: up to 32 MB more resident memory
// once the larger semi-spaces have been written.
export const SERVE_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16'];

/** The flags of SERVE_NODE_FLAGS that `execArgv` (a Node's own command-line flags) does not set. */
export function missingServeFlags(execArgv: readonly string[]): string[] {
  return SERVE_NODE_FLAGS.filter((flag) => {
    const name = flag.split('=')[0]!;
    return !execArgv.some((arg) => arg === name || arg.startsWith(`${name}=`));
  });
}
