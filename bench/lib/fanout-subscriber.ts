// One Redis subscriber process of the fan-out baseline: an ioredis connection subscribed to the
// channel, stamping each message's arrival with the machine's monotonic clock (the same clock in
// every process on Linux) and reporting it to the publisher over IPC, off the timed path. Given an
// LMDB directory, it first commits each message to its own LMDB environment (opened as a node opens
// its replica, one write transaction per message, as a node applies a shipped batch) and stamps
// after the commit: pub/sub plus the replica write, without HTTP or a watch.
import { open, type RootDatabase } from 'lmdb';
import { Redis } from 'ioredis';

const [url, channel, lmdbDir] = process.argv.slice(2) as [string, string, string | undefined];
const replica: RootDatabase<unknown, string> | null = lmdbDir ? open<unknown, string>({ path: lmdbDir, maxDbs: 32 }) : null;
const table = replica?.openDB<unknown, string>({ name: 'fanout' });
const sub = new Redis(url, { connectionName: 'bench-fanout-sub' });
sub.on('message', (_channel: string, message: string) => {
  if (!replica) {
    stamp(message);
    return;
  }
  replica
    .transaction(() => {
      table!.put('round', message);
      table!.put(`round:${message}`, { message, at: Date.now() });
    })
    .then(
      () => stamp(message),
      (err: unknown) => process.send!({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
    );
});

function stamp(message: string): void {
  const at = process.hrtime.bigint();
  process.send!({ type: 'received', round: Number(message), at: String(at) });
}
sub.subscribe(channel).then(
  () => process.send!({ type: 'subscribed' }),
  (err: unknown) => {
    process.send!({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  },
);
process.once('disconnect', () => {
  sub.disconnect();
  void (replica?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});
