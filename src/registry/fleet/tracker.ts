// The hot-path half of fleet telemetry: counts in memory, per target (a model version reached
// through one ref) and caller, until the next flush drains them. A repeated resolve costs two Map
// lookups and a few field writes; a new caller is validated once per flush window. The number of
// entries between flushes is capped: past it, new callers are counted as dropped, never stored.
// Each caller's counts are kept as the observation the flush sends, so a drain hands over the
// objects it holds instead of copying 100,000 of them at the peak.
import { firstObservation, parseDeploymentHeader, type FleetIdentity, type FleetObservation, type FleetVia } from '../../domain/fleet.js';

/** What a request reached: one version of one model, through `ref` ('' for a download by digest). */
export interface FleetTarget {
  readonly model: string;
  readonly version: number;
  readonly digest: string;
  readonly ref: string;
}

/** A pending observation; `ref` and `node` are filled in by the drain. */
type Counts = FleetObservation;

export class FleetTracker {
  private pending = new Map<FleetTarget, Map<string, Counts>>();
  /** Callers without a header, by token name and then address: no key is built per request. */
  private byToken = new Map<FleetTarget, Map<string, Map<string, Counts>>>();
  private entries = 0;
  /** Callers not counted because the window was full (since start). */
  dropped = 0;
  /** Deployment headers ignored as malformed (since start). */
  malformed = 0;
  /**
   * The fallback caller counted last, so a caller repeating its resolve is counted without the
   * three map lookups (the strings are the same objects from request to request: the token's name,
   * the peer address from peer-address.ts). Forgotten by the drain, whose window starts empty.
   */
  private lastTarget: FleetTarget | null = null;
  private lastToken = '';
  private lastAddress = '';
  private lastCounts: Counts | null = null;

  constructor(private readonly maxEntries: number) {}

  /** The number of entries waiting for the next flush. */
  get size(): number {
    return this.entries;
  }

  /**
   * Counts a resolve by the caller a deployment header names, at `at` (ms since the epoch). Returns
   * null once counted (or dropped at the cap), else what is wrong with the header, and nothing is counted.
   */
  resolveByHeader(target: FleetTarget, header: string, at = Date.now()): string | null {
    const counts = this.pending.get(target)?.get(header) ?? this.admitHeader(target, header, at);
    if (typeof counts === 'string') return counts;
    if (counts) bumpResolve(counts, at);
    return null;
  }

  /** Counts a resolve by a caller identified already (a parsed header, or token name and address). */
  resolveAs(target: FleetTarget, identity: FleetIdentity, via: FleetVia): void {
    const counts = this.lookup(target, identity, via);
    if (counts) bumpResolve(counts, Date.now());
  }

  /** Counts a resolve by a caller without a header, at `at` (ms since the epoch): the token's name and the client address. */
  resolveFrom(target: FleetTarget, tokenName: string, address: string, at = Date.now()): void {
    if (target === this.lastTarget && address === this.lastAddress && tokenName === this.lastToken) {
      bumpResolve(this.lastCounts!, at);
      return;
    }
    const counts = this.byToken.get(target)?.get(tokenName)?.get(address) ?? this.insertFallback(target, tokenName, address, at);
    if (!counts) return;
    bumpResolve(counts, at);
    this.lastTarget = target;
    this.lastToken = tokenName;
    this.lastAddress = address;
    this.lastCounts = counts;
  }

  /** Counts a download of `bytes` by the caller a valid deployment header or other identity names. */
  download(target: FleetTarget, identity: FleetIdentity, via: FleetVia, bytes: number): void {
    const counts = this.lookup(target, identity, via);
    if (!counts) return;
    const now = Date.now();
    counts.lastSeen = now;
    counts.lastDownloadAt = now;
    counts.downloads++;
    counts.bytes += bytes;
  }

  /** Everything counted since the last drain, as observations from `node`; the window starts empty. */
  drain(node: string): FleetObservation[] {
    const out: FleetObservation[] = [];
    const take = (target: FleetTarget, callers: Iterable<Counts>) => {
      for (const c of callers) {
        // A caller that only downloaded has no ref: the target's ref is what it resolved.
        c.ref = c.lastResolveAt > 0 ? target.ref : '';
        c.node = node;
        out.push(c);
      }
    };
    for (const [target, callers] of this.pending) take(target, callers.values());
    for (const [target, tokens] of this.byToken) for (const callers of tokens.values()) take(target, callers.values());
    this.pending = new Map();
    this.byToken = new Map();
    this.entries = 0;
    this.lastTarget = null;
    this.lastCounts = null;
    return out;
  }

  private admitHeader(target: FleetTarget, header: string, at: number): Counts | string | null {
    const parsed = parseDeploymentHeader(header);
    if ('problem' in parsed) {
      this.malformed++;
      return parsed.problem;
    }
    return this.insert(target, header, parsed, 'header', at);
  }

  private lookup(target: FleetTarget, identity: FleetIdentity, via: FleetVia): Counts | null {
    const key = `${identity.deployment}/${identity.instance}`;
    return this.pending.get(target)?.get(key) ?? this.insert(target, key, identity, via);
  }

  private insertFallback(target: FleetTarget, tokenName: string, address: string, at: number): Counts | null {
    if (this.entries >= this.maxEntries) {
      this.dropped++;
      return null;
    }
    let tokens = this.byToken.get(target);
    if (!tokens) this.byToken.set(target, (tokens = new Map()));
    let callers = tokens.get(tokenName);
    if (!callers) tokens.set(tokenName, (callers = new Map()));
    const counts: Counts = firstObservation(target, { deployment: tokenName.slice(0, 128), instance: address }, 'token', at);
    callers.set(address, counts);
    this.entries++;
    return counts;
  }

  private insert(target: FleetTarget, key: string, identity: FleetIdentity, via: FleetVia, at = Date.now()): Counts | null {
    if (this.entries >= this.maxEntries) {
      this.dropped++;
      return null;
    }
    let callers = this.pending.get(target);
    if (!callers) this.pending.set(target, (callers = new Map()));
    const counts: Counts = firstObservation(target, identity, via, at);
    callers.set(key, counts);
    this.entries++;
    return counts;
  }
}

function bumpResolve(counts: Counts, at: number): void {
  counts.lastSeen = at;
  counts.lastResolveAt = at;
  counts.resolves++;
}
