// One Redis subscriber process of the fan-out baseline: an ioredis connection subscribed to the
// channel, stamping each message's arrival with the machine's monotonic clock (the same clock in
// every process on Linux) and reporting it to the publisher over IPC, off the timed path. Given an
// LMDB directory, it first commits each message to its own LMDB environment, opened and written as
// a node writes its replica of Redis (no fsync, one synchronous write transaction per message on
// the event loop, see src/store/redis/unflushed-replica.ts), and stamps after the commit: pub/sub
// plus the replica write, without HTTP or a watch. With `serve` as well it does what a node does
// next: a uWebSockets.js app sends each committed round to its WebSocket watchers and answers
// GET /round from LMDB; the publisher then times until it has every process's HTTP answer.
import { open, type RootDatabase } from 'lmdb';
import { Redis } from 'ioredis';
import uWS from 'uWebSockets.js';

const [url, channel, lmdbDir, mode, burn] = process.argv.slice(2) as [
  string,
  string,
  string | undefined,
  string | undefined,
  string | undefined,
];
/** CPU milliseconds spent on each message before anything else (BENCH_PROPAGATION_FLOOR_BURN_MS): a node's heavier work per change. */
const burnMs = Number(burn ?? 0);
const replica: RootDatabase<unknown, string> | null = lmdbDir ? open<unknown, string>({ path: lmdbDir, maxDbs: 32, noSync: true }) : null;
const table = replica?.openDB<unknown, string>({ name: 'fanout' });
const sub = new Redis(url, { connectionName: 'bench-fanout-sub' });

const app = mode === 'serve' ? uWS.App() : null;
app?.ws('/watch', { idleTimeout: 120, open: (ws) => void ws.subscribe('rounds') }).get('/round', (res) => {
  res.cork(() => res.end(String(table!.get('round') ?? '')));
});

sub.on('message', (_channel: string, message: string) => {
  if (burnMs > 0) burnCpu(burnMs);
  if (!replica) {
    stamp(message);
    return;
  }
  try {
    replica.transactionSync(() => {
      table!.put('round', message);
      table!.put(`round:${message}`, { message, at: Date.now() });
    });
  } catch (err) {
    process.send!({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    return;
  }
  if (app) app.publish('rounds', message);
  else stamp(message);
});

/** Keeps the event loop busy for `ms` of this process's CPU time (not wall time: a preempted spin costs the same CPU). */
function burnCpu(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

function stamp(message: string): void {
  const at = process.hrtime.bigint();
  process.send!({ type: 'received', round: Number(message), at: String(at) });
}

async function start(): Promise<number | undefined> {
  await sub.subscribe(channel);
  if (!app) return undefined;
  return new Promise((resolve, reject) =>
    app.listen('127.0.0.1', 0, (socket) => (socket ? resolve(uWS.us_socket_local_port(socket)) : reject(new Error('cannot listen')))),
  );
}

start().then(
  (port) => process.send!({ type: 'subscribed', port }),
  (err: unknown) => {
    process.send!({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  },
);
process.once('disconnect', () => {
  sub.disconnect();
  void (replica?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});
