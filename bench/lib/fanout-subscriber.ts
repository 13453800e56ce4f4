// One Redis subscriber process of the fan-out baseline: an ioredis connection subscribed to the
// channel, stamping each message's arrival with the machine's monotonic clock (the same clock in
// every process on Linux) and reporting it to the publisher over IPC, off the timed path.
import { Redis } from 'ioredis';

const [url, channel] = process.argv.slice(2) as [string, string];
const sub = new Redis(url, { connectionName: 'bench-fanout-sub' });
sub.on('message', (_channel: string, message: string) => {
  const at = process.hrtime.bigint();
  process.send!({ type: 'received', round: Number(message), at: String(at) });
});
sub.subscribe(channel).then(
  () => process.send!({ type: 'subscribed' }),
  (err: unknown) => {
    process.send!({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  },
);
process.once('disconnect', () => {
  sub.disconnect();
  process.exit(0);
});
