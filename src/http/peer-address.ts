// The peer address of a request as text, for fleet telemetry's fallback identity (token name +
// address), read on every resolve that has no deployment header. uWS reads it with getpeername(2)
// each time and hands it back in a new ArrayBuffer; the text form adds a formatting pass in native
// code and a string built from the bytes in JS (perf under the resolve bench: 9% of the server's
// CPU went to the text read, 4.9% of it the system call).
// So the binary form is read, and an IPv4 address (also IPv4-mapped IPv6, what a dual-stack
// listener sees of an IPv4 client) is looked up as a number in a map of the texts already built:
// the same string object each time, its hash kept, for the fleet tracker's map lookups after it.
import type { HttpResponse } from 'uWebSockets.js';

/** IPv4 texts kept; past this many distinct clients the map starts over (a miss builds one string). */
const MAX_KEPT = 10_000;
const ipv4Texts = new Map<number, string>();

/** The peer's address as text: dotted IPv4 (IPv4-mapped IPv6 included), else eight 4-digit hex groups. */
export function peerAddress(res: HttpResponse): string {
  const bytes = new Uint8Array(res.getRemoteAddress());
  if (bytes.length === 4) return ipv4Text(bytes, 0);
  if (bytes.length === 16 && isIpv4Mapped(bytes)) return ipv4Text(bytes, 12);
  return ipv6Text(bytes);
}

function ipv4Text(bytes: Uint8Array, at: number): string {
  const key = bytes[at]! * 0x1000000 + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!;
  let text = ipv4Texts.get(key);
  if (text === undefined) {
    if (ipv4Texts.size >= MAX_KEPT) ipv4Texts.clear();
    text = `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
    ipv4Texts.set(key, text);
  }
  return text;
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
