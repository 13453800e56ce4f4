// The floors of the house, checked on every `npm run lint` (and so by `npm test` and CI): an import
// that runs from a lower floor to a higher one fails the build. Data flows
// http → registry → (control store, events); http → index for resolve; http → blobs; blobs → workers;
// cli → client → HTTP only. Only service.ts (the one factory that reads the configuration) and the
// CLI's `serve` name concrete backends. src/domain, the ground floor, imports nothing of the service.
const BACKENDS = '^src/(store/(lmdb|redis)/|blobs/(fs-blob-store|s3-blob-store|edge-cache)[.]ts|events/(local|redis)-bus[.]ts)';

/** A rule that keeps `folder` to importing only what `allowed` matches, itself and src/lib (shared helpers, below everything). */
const only = (name, folder, allowed, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: `^src/${folder}` },
  to: { path: '^src/', pathNot: [`^src/${folder}`, '^src/lib/', ...allowed] },
});

module.exports = {
  forbidden: [
    only(
      'lib-imports-nothing',
      'lib/',
      [],
      'src/lib holds helpers every floor may use (retry with backoff); they know nothing of modelgate',
    ),
    only('domain-is-the-ground-floor', 'domain/', [], 'the domain imports nothing of the service'),
    {
      name: 'domain-uses-no-service-package',
      comment: 'the domain is pure: node built-ins and zod (request shapes) only',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'], pathNot: '^node_modules/zod/' },
    },
    only(
      'log-and-metrics-stand-on-the-domain',
      '(log[.]ts$|metrics/)',
      ['^src/domain/'],
      'the logger and the metrics, which every floor above the domain may use, know the domain only',
    ),
    only(
      'config-stands-on-the-domain',
      'config/',
      ['^src/domain/'],
      'the configuration schema reads domain rules (thresholds, card fields) and nothing else',
    ),
    only('index-stands-on-the-domain', 'index/', ['^src/domain/'], 'the node-local index holds state; it knows the domain only'),
    only(
      'store-below-registry',
      'store/',
      ['^src/domain/', '^src/index/', '^src/log[.]ts$', '^src/trace[.]ts$'],
      'the control store implements the domain rules; it knows nothing above it',
    ),
    only(
      'events-below-registry',
      'events/',
      ['^src/domain/', '^src/log[.]ts$', '^src/trace[.]ts$'],
      'the event bus carries domain notices',
    ),
    only(
      'blobs-below-http',
      'blobs/',
      ['^src/domain/', '^src/index/(local|shared)-table[.]ts$', '^src/log[.]ts$', '^src/metrics/', '^workers/'],
      'bytes: blob stores, ingest, the edge cache and the hash workers',
    ),
    only('oci-format-is-pure', 'oci/', ['^src/domain/'], 'the OCI manifest format, without transport'),
    only(
      'registry-below-http',
      'registry/',
      [
        '^src/domain/',
        '^src/index/',
        '^src/store/control-store[.]ts$',
        '^src/store/fleet-store[.]ts$',
        '^src/events/event-bus[.]ts$',
        '^src/blobs/(blob-store|blob-guard)[.]ts$',
        '^src/log[.]ts$',
      ],
      'the registry is the door to the control store and wires replication; it knows stores and the bus only by their interfaces',
    ),
    only(
      'webhooks-below-http',
      'webhooks/',
      ['^src/domain/', '^src/registry/registry[.]ts$', '^src/log[.]ts$', '^src/metrics/'],
      'webhook delivery reads the outbox and the delivery queue through the registry and sends with node:http; it knows nothing of uWS',
    ),
    only('auth-below-http', 'auth/', ['^src/domain/', '^src/registry/tokens[.]ts$'], 'authentication reads tokens through the registry'),
    only(
      'client-speaks-http-only',
      'client/',
      ['^src/domain/'],
      'the client reaches the server over HTTP only; it shares the domain types',
    ),
    {
      name: 'cli-goes-through-the-client',
      comment: 'the CLI talks to a server through the client; only `serve` starts the service',
      severity: 'error',
      from: { path: '^src/cli/', pathNot: '^src/cli/commands/serve[.]ts$' },
      to: { path: '^src/', pathNot: ['^src/cli/', '^src/client/', '^src/domain/', '^src/lib/', '^src/log[.]ts$'] },
    },
    {
      name: 'the-service-knows-no-client',
      comment: 'the CLI and the client stand outside the service and reach it over HTTP; nothing of the service imports them',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|client)/' },
      to: { path: '^src/(cli|client)/' },
    },
    {
      name: 'only-serve-starts-the-service',
      comment: 'service.ts, the factory, stands on top: only the CLI `serve` command imports it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/commands/serve[.]ts$' },
      to: { path: '^src/service[.]ts$' },
    },
    {
      name: 'registry-is-the-only-door',
      comment: 'every use case reaches the control store through src/registry',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/registry/', '^src/store/', '^src/service[.]ts$'] },
      to: { path: '^src/store/' },
    },
    {
      name: 'nothing-below-http-imports-http',
      severity: 'error',
      // native-check loads the uWS binary only to report a missing build at start.
      from: { path: '^src/', pathNot: ['^src/http/', '^src/service[.]ts$', '^src/native-check[.]ts$'] },
      to: { path: ['^src/http/', 'uWebSockets'] },
    },
    {
      name: 'workers-behind-blobs',
      comment: "the hashing threads are the blob floor's own: everything else asks the hash pool",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/blobs/' },
      to: { path: '^workers/' },
    },
    {
      name: 'one-factory-names-backends',
      comment: 'service.ts reads the configuration and picks the backends; everything else takes interfaces',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/service[.]ts$', BACKENDS] },
      to: { path: BACKENDS },
    },
    {
      name: 'no-circles',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    includeOnly: ['^src/', '^workers/', '^node_modules/'],
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
