// How many connections a pull keeps open, chosen from what it measures rather than fixed: start
// with the count the work calls for (see initialConnections), measure the aggregate throughput
// over a window, then add one connection at a time for as long as each addition raises the
// aggregate by a clear margin; when one does not, go back to the count before it and stay there.
// On a fast link with few cores an extra stream only costs CPU that the hash and the server need
// (one stream beat four on loopback here), while a distant or per-stream-limited link gains from
// every one up to --max-connections: only a measurement tells the two apart. A window in which the
// hashing thread was busy nearly all the time says the hash, not the link, sets the pace: no
// connection can speed that up, so none is tried; nor in a window in which the machine's cores had
// next to no idle time while this pull used a fifth of a core or more: the CPU sets the pace, and the
// pull is part of what keeps it busy (on a loaded machine the rate was low and a probe looked
// worthwhile: pulls from a local server went to 3-4 connections that only added CPU). A slow
// link on a machine busy with other work still gets its probes: the pull itself uses little CPU.
// Pure (time, byte counts, the hashing thread's busy time and the CPU times come in as
// arguments), so tests can feed it any link and machine they like.

/** Cumulative CPU times in ms: the machine's cores idle (summed over the cores), and this process's own use. */
export interface CpuTimes {
  idleMs: number;
  ownMs: number;
}

export interface ControllerOptions {
  /** Connections to start with. */
  initial: number;
  /** Never more than this (--max-connections). */
  max: number;
  /** Ignored after each change: the new connection connects and its TCP window opens. */
  warmUpMs?: number;
  /** Aggregate throughput is measured over this long at each count. */
  windowMs?: number;
  /** An added connection stays only if it raised the aggregate by at least this fraction. */
  minGain?: number;
  /** Another connection is tried only if at least this much would be left to transfer… */
  minRemainingBytes?: number;
  /** …and if that would take at least this long at the measured rate: a probe must have time to pay off. */
  minRemainingSeconds?: number;
  /** A window in which the hashing thread was busy for at least this share of the time is hash-bound: no probe. */
  hashBound?: number;
  /** Cores of the machine, for the idle share of a window. */
  cores?: number;
  /**
   * A window in which the cores were idle for less than this share of their time, while this
   * process used at least `cpuBoundOwnCores` of a core, is CPU-bound: no probe.
   */
  minIdle?: number;
  cpuBoundOwnCores?: number;
}

export const CONTROLLER_DEFAULTS = {
  warmUpMs: 150,
  windowMs: 400,
  minGain: 0.1,
  minRemainingBytes: 32 * 1024 * 1024,
  minRemainingSeconds: 2,
  hashBound: 0.9,
  cores: 1,
  minIdle: 0.1,
  cpuBoundOwnCores: 0.2,
} as const;

export class ConnectionController {
  private current: number;
  private readonly max: number;
  private readonly settings: Required<Omit<ControllerOptions, 'initial' | 'max'>>;
  /** When the current count took effect. */
  private since: number | null = null;
  /** Start of the measuring window at the current count, once the warm-up is over. */
  private mark: { at: number; received: number; hashBusyMs: number; cpu: CpuTimes | undefined } | null = null;
  /** Aggregate bytes per second measured at the count before the current one (while probing). */
  private baseline: number | null = null;
  private settled = false;
  /** The most connections wanted at once so far. */
  peak: number;

  constructor(options: ControllerOptions) {
    this.max = Math.max(1, options.max);
    this.current = Math.max(1, Math.min(this.max, options.initial));
    this.peak = this.current;
    const d = CONTROLLER_DEFAULTS;
    this.settings = {
      warmUpMs: options.warmUpMs ?? d.warmUpMs,
      windowMs: options.windowMs ?? d.windowMs,
      minGain: options.minGain ?? d.minGain,
      minRemainingBytes: options.minRemainingBytes ?? d.minRemainingBytes,
      minRemainingSeconds: options.minRemainingSeconds ?? d.minRemainingSeconds,
      hashBound: options.hashBound ?? d.hashBound,
      cores: options.cores ?? d.cores,
      minIdle: options.minIdle ?? d.minIdle,
      cpuBoundOwnCores: options.cpuBoundOwnCores ?? d.cpuBoundOwnCores,
    };
  }

  /** Connections wanted now. */
  get target(): number {
    return this.current;
  }

  /** The count is final: later samples change nothing (the caller may stop measuring). */
  get decided(): boolean {
    return this.settled;
  }

  /**
   * One observation: at `now` (ms), `received` bytes have arrived since the start and `remaining`
   * are still to come, the hashing thread has been busy for `hashBusyMs` in all (0 when not
   * known), and `cpu` are the CPU times so far (undefined when not known). Returns the
   * connections wanted from now on.
   */
  sample(now: number, received: number, remaining: number, hashBusyMs = 0, cpu?: CpuTimes): number {
    if (this.settled) return this.current;
    this.since ??= now;
    if (now - this.since < this.settings.warmUpMs) return this.current;
    if (!this.mark) {
      this.mark = { at: now, received, hashBusyMs, cpu };
      return this.current;
    }
    const elapsed = now - this.mark.at;
    if (elapsed < this.settings.windowMs) return this.current;
    const rate = ((received - this.mark.received) * 1000) / elapsed;
    const hashShare = (hashBusyMs - this.mark.hashBusyMs) / elapsed;
    const cpuBound = this.cpuBound(elapsed, this.mark.cpu, cpu);

    if (this.baseline !== null && rate < this.baseline * (1 + this.settings.minGain)) {
      // The last connection added did not pay for itself: back to the count before it, for good.
      this.change(this.current - 1, now);
      this.settled = true;
      return this.current;
    }
    const worthProbing =
      this.current < this.max &&
      hashShare < this.settings.hashBound &&
      !cpuBound &&
      remaining >= this.settings.minRemainingBytes &&
      rate > 0 &&
      remaining / rate >= this.settings.minRemainingSeconds;
    if (!worthProbing) {
      this.settled = true;
      return this.current;
    }
    this.baseline = rate;
    this.change(this.current + 1, now);
    return this.current;
  }

  /** Whether, over a window of `elapsed` ms, no core had time to spare while this process used a good part of one. */
  private cpuBound(elapsed: number, from: CpuTimes | undefined, to: CpuTimes | undefined): boolean {
    if (!from || !to) return false;
    const idleShare = (to.idleMs - from.idleMs) / (elapsed * this.settings.cores);
    const ownCores = (to.ownMs - from.ownMs) / elapsed;
    return idleShare < this.settings.minIdle && ownCores >= this.settings.cpuBoundOwnCores;
  }

  private change(to: number, now: number): void {
    this.current = to;
    this.peak = Math.max(this.peak, to);
    this.since = now;
    this.mark = null;
  }
}

/**
 * The count a pull starts with: one connection, plus one per 8 files still to fetch (small files
 * are bound by round trips, not bytes), at most `max` and never more than there are pieces. The
 * controller adds more only where the measured throughput grows with them.
 */
export function initialConnections(pieces: number, files: number, max: number): number {
  return Math.max(1, Math.min(max, pieces, Math.ceil(files / 8)));
}
