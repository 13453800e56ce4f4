// The peer address of a request as text, for fleet telemetry's fallback identity (token name +
// address), read on every resolve that has no deployment header.
//
// Over plain TCP the address comes from what accept saw (native/peer-address.cc): the addon keeps
// each connection's address when uSockets opens it, and a read is a table lookup. uWS's own read
// (getpeername(2) each time, handed back in a new ArrayBuffer) cost a bare uWS app under wrk
// 0.81-0.83x of its requests per CPU-second without the read, the lookup 0.95-0.97x
// (bench/results/20261207T2300Z-peer-from-accept.md). uWS's read remains for TLS, IPv6 peers, and
// wherever the addon is not built.
//
// An IPv4 address (also IPv4-mapped IPv6, what a dual-stack listener sees of an IPv4 client) is
// turned into text through a map of the texts already built: the same string object each time, its
// hash kept, for the fleet tracker's map lookups after it.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { HttpResponse, us_listen_socket } from 'uWebSockets.js';
import { logger } from '../log.js';

const PEER_ADDRESS_ADDON = fileURLToPath(new URL('../../native/peer-address.node', import.meta.url));
/** IPv4 texts kept; past this many distinct clients the map starts over (a miss builds one string). */
const MAX_KEPT = 10_000;

interface PeerAddressAddon {
  watch(listenSocket: us_listen_socket): boolean;
  /** An IPv4 key (a·2^24 + b·2^16 + c·2^8 + d), -1 (read it through uWS), or -2 (as -1; a check just turned remembering off). */
  peerIpv4(res: HttpResponse): number;
  stats(): { watching: boolean; remembering: boolean; hits: number; checks: number; misses: number };
}

export class PeerAddresses {
  private readonly ipv4Texts = new Map<number, string>();
  private watching = false;

  private constructor(
    private readonly addon: PeerAddressAddon | null,
    /** Why reads go through uWS, while they do. */
    private reason: string,
  ) {}

  /** Reads from accept where the addon loads and the connections are plain TCP; through uWS otherwise. */
  static load(tls: boolean): PeerAddresses {
    if (tls) return new PeerAddresses(null, 'TLS connections are read through uWS');
    try {
      return new PeerAddresses(createRequire(import.meta.url)(PEER_ADDRESS_ADDON) as PeerAddressAddon, 'not listening yet');
    } catch (err) {
      return new PeerAddresses(null, `native addon not loaded (${(err as Error).message.split('\n')[0]})`);
    }
  }

  /** Reads through uWS only (a bare app's baseline, tests). */
  static throughUws(): PeerAddresses {
    return new PeerAddresses(null, 'read through uWS by choice');
  }

  /** Call from uWS's listen callback, before the loop accepts a connection on it. */
  watch(listenSocket: us_listen_socket): void {
    if (!this.addon) return;
    this.watching = this.addon.watch(listenSocket);
    if (!this.watching) this.reason = "uSockets' open and close handlers not found";
  }

  /** How reads are made, for the start log. */
  describe(): { fromAccept: boolean; reason?: string } {
    return this.watching ? { fromAccept: true } : { fromAccept: false, reason: this.reason };
  }

  stats(): ReturnType<PeerAddressAddon['stats']> | null {
    return this.addon ? this.addon.stats() : null;
  }

  /** The peer's address as text: dotted IPv4 (IPv4-mapped IPv6 included), else eight 4-digit hex groups. */
  of(res: HttpResponse): string {
    if (this.watching) {
      const key = this.addon!.peerIpv4(res);
      if (key >= 0) return this.ipv4Text(key);
      if (key === -2) {
        this.reason = 'a remembered address disagreed with getpeername';
        logger.warn({ stats: this.stats() }, 'peer addresses: a remembered address was wrong; reading each with a system call from now on');
      }
    }
    return this.throughUws(res);
  }

  private throughUws(res: HttpResponse): string {
    const bytes = new Uint8Array(res.getRemoteAddress());
    if (bytes.length === 4) return this.ipv4Text(keyOf(bytes, 0));
    if (bytes.length === 16 && isIpv4Mapped(bytes)) return this.ipv4Text(keyOf(bytes, 12));
    return ipv6Text(bytes);
  }

  private ipv4Text(key: number): string {
    let text = this.ipv4Texts.get(key);
    if (text === undefined) {
      if (this.ipv4Texts.size >= MAX_KEPT) this.ipv4Texts.clear();
      text = `${key >>> 24}.${(key >>> 16) & 0xff}.${(key >>> 8) & 0xff}.${key & 0xff}`;
      this.ipv4Texts.set(key, text);
    }
    return text;
  }
}

function keyOf(bytes: Uint8Array, at: number): number {
  return bytes[at]! * 0x1000000 + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
}

/** ::ffff:a.b.c.d — ten zero bytes, then two 0xff. */
function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** The form uWS's text read gives an IPv6 peer (e.g. 0000:…:0001), so such instances keep their names. */
function ipv6Text(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16).padStart(4, '0'));
  return groups.join(':');
}
