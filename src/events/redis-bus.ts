// Change notices over Redis pub/sub. At-most-once: a subscriber that was disconnected misses
// what was published meanwhile, so after every reconnect it subscribes again, waits for the
// subscription to be confirmed, and only then asks its users to resync (subscribe, then read).
import { Redis } from 'ioredis';
import { logger } from '../log.js';
import { trace } from '../trace.js';
import type { ChangeNotice } from '../domain/types.js';
import type { EventBus, NoticeListener } from './event-bus.js';

/** The channel of the notices of the registry under `prefix`; a RedisControlStore given it publishes each commit's notice itself. */
export function noticeChannel(prefix: string): string {
  return `${prefix}changes`;
}

export class RedisEventBus implements EventBus {
  private readonly listeners = new Set<NoticeListener>();
  private readonly resyncListeners = new Set<() => void>();
  private readonly channel: string;
  private connectedOnce = false;

  private constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    prefix: string,
  ) {
    this.channel = noticeChannel(prefix);
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      let notice: ChangeNotice;
      try {
        notice = JSON.parse(message) as ChangeNotice;
        if (typeof notice?.change?.seq !== 'number') throw new Error('no change.seq');
      } catch {
        logger.warn({ message: message.slice(0, 200) }, 'ignoring a malformed change notice');
        return;
      }
      trace('notice.received', notice.change.seq);
      for (const listener of this.listeners) listener(notice);
    });
    sub.on('ready', () => {
      if (!this.connectedOnce) return;
      this.sub.subscribe(this.channel).then(
        () => {
          for (const listener of this.resyncListeners) listener();
        },
        (err: unknown) => logger.warn({ err }, 'resubscribe failed; the next reconnect or anti-entropy pass will resync'),
      );
    });
  }

  static async open(url: string, prefix: string): Promise<RedisEventBus> {
    const options = {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: (n: number) => Math.min(50 * n, 1000),
    };
    const pub = new Redis(url, { ...options, connectionName: 'modelgate-pub' });
    const sub = new Redis(url, { ...options, connectionName: 'modelgate-sub' });
    const bus = new RedisEventBus(pub, sub, prefix);
    pub.on('error', (err) => logger.debug({ err: err.message }, 'redis publisher connection error'));
    sub.on('error', (err) => logger.debug({ err: err.message }, 'redis subscriber connection error'));
    await Promise.all([pub.connect().catch(() => undefined), sub.connect().catch(() => undefined)]);
    await sub.subscribe(bus.channel).catch((err: unknown) => logger.warn({ err }, 'redis subscription failed; will retry on reconnect'));
    bus.connectedOnce = true;
    return bus;
  }

  publish(notice: ChangeNotice): void {
    this.pub.publish(this.channel, JSON.stringify(notice)).catch((err: unknown) => {
      // Other nodes will still converge through their anti-entropy pass.
      logger.warn({ err: (err as Error).message, seq: notice.change.seq }, 'could not publish a change notice');
    });
  }

  subscribe(listener: NoticeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.resyncListeners.clear();
    this.sub.disconnect();
    this.pub.disconnect();
  }
}
