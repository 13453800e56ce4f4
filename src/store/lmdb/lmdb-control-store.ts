// ControlStore on embedded LMDB: the authority for a single node. A plan runs inside one lmdb-js
// `transaction`, which commits asynchronously in a batch (the event loop never waits on fsync).
// Unlike `transactionSync`, that call does not roll back writes made before a throw; plans are
// pure until they return their writes, so nothing is written before every check has passed.
import { conflict } from '../../domain/errors.js';
import type { RegistryReader } from '../../domain/state.js';
import type { ControlPlaneRestore, ControlPlaneStatus } from '../../domain/types.js';
import { PlannedStore } from '../planned-store.js';
import type { Plan } from '../../domain/writes.js';
import { LmdbState } from '../../index/lmdb-state.js';
import type { WebhookDelivery } from '../../domain/webhooks.js';
import { LmdbDeliveryQueue } from './lmdb-delivery-queue.js';
import { LmdbSharedTable } from './lmdb-shared-table.js';

export class LmdbControlStore extends PlannedStore {
  protected readonly state: LmdbState;
  private address = '';
  private deliveries: LmdbDeliveryQueue | undefined;
  private leaseQueue: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    super();
    this.state = new LmdbState(dataDir);
  }

  protected async commit<R>(plan: (state: RegistryReader) => Plan<R>): Promise<Plan<R>> {
    const done = await this.state.transaction(() => {
      const planned = plan(this.state);
      this.state.apply(planned.writes);
      return planned;
    });
    if (done.change) {
      this.announce({ change: done.change });
      this.emit(done.change, done.writes);
    }
    return done;
  }

  openLocalTable<V>(name: string) {
    return this.state.openLocalTable<V>(name);
  }

  /** One node is the whole deployment: its shared tables are local ones. */
  sharedTable<V>(name: string): LmdbSharedTable<V> {
    return new LmdbSharedTable(this.state.openLocalTable<V>(`shared:${name}`));
  }

  /**
   * One node is the whole deployment, so a lease is a row in a local table, taken one call at a
   * time (a read before an LMDB write has committed still sees the old row). Expired rows are
   * removed on the way: leases named after periods never come back.
   */
  acquireLease(name: string, ttlMs: number): Promise<boolean> {
    const run = this.leaseQueue
      .catch(() => undefined)
      .then(async () => {
        const leases = this.state.openLocalTable<number>('leases');
        const now = Date.now();
        for (const { key, value } of [...leases.entries()]) if (value <= now) await leases.remove(key);
        if (leases.get(name) !== undefined) return false;
        await leases.put(name, now + ttlMs);
        return true;
      });
    this.leaseQueue = run;
    return run;
  }

  deliveryQueue(): LmdbDeliveryQueue {
    this.deliveries ??= new LmdbDeliveryQueue(
      this.state.openLocalTable<WebhookDelivery>('webhook-deliveries'),
      this.state.openLocalTable<number>('webhook-due'),
      this.state.openLocalTable<number>('webhook-queue'),
    );
    return this.deliveries;
  }

  getSetting(key: string): unknown {
    return this.state.getLocal(key);
  }

  putSetting(key: string, value: unknown): Promise<void> {
    return this.state.putLocal(key, value);
  }

  registerNode(address: string): void {
    this.address = address;
  }

  /** One node, which is its own authority: it always agrees with itself. */
  async controlPlaneStatus(): Promise<ControlPlaneStatus> {
    const head = this.state.auditHead();
    const now = new Date();
    return {
      backend: 'lmdb',
      authority: { seq: head.seq, headHash: head.hash },
      restoredAt: 0,
      nodes: [
        {
          id: 'local',
          address: this.address,
          appliedSeq: head.seq,
          headHash: head.hash,
          diverged: null,
          lastHeartbeat: now.toISOString(),
          ageMs: 0,
          live: true,
          lag: 0,
          agrees: true,
        },
      ],
      agree: true,
    };
  }

  async restoreFromReplica(): Promise<ControlPlaneRestore> {
    throw conflict(
      'CONTROL_PLANE_NOT_SHARED',
      'this node keeps the registry in its own LMDB store (control.backend=lmdb): there is no shared control plane to restore',
    );
  }

  close(): Promise<void> {
    return this.state.close();
  }
}
