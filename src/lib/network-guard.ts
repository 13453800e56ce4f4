// Outbound requests to addresses chosen by users (webhook URLs) must not reach the machine's own
// network: loopback, private ranges, link-local (where cloud metadata services answer), CGNAT,
// multicast and reserved space are refused unless the operator allows private networks. The
// check runs on the addresses a name resolves to, and the connection then uses exactly those
// addresses (a `lookup` for node:http), so a name that re-resolves elsewhere cannot slip past.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

const refused: [string, number, 'ipv4' | 'ipv6', string][] = [
  ['0.0.0.0', 8, 'ipv4', 'this-network'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'reserved'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['64:ff9b::', 96, 'ipv6', 'NAT64'],
  ['fc00::', 7, 'ipv6', 'private (unique local)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const lists = refused.map(([net, prefix, family, label]) => {
  const list = new BlockList();
  list.addSubnet(net, prefix, family);
  return { list, family, label };
});

/** Names that reach a cloud metadata service whatever they resolve to. */
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.azure.internal',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** Why the address may not be contacted (e.g. "loopback"), or undefined when it is public. */
export function addressRefusal(address: string): string | undefined {
  let ip = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  // An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  // The same in hex, as the URL parser writes it (::ffff:7f00:1).
  const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (mappedHex) {
    const hi = Number.parseInt(mappedHex[1]!, 16);
    const lo = Number.parseInt(mappedHex[2]!, 16);
    ip = [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  const family = isIP(ip);
  if (family === 0) return 'not an IP address';
  const kind = family === 4 ? 'ipv4' : 'ipv6';
  for (const { list, family: f, label } of lists) if (f === kind && list.check(ip, kind)) return label;
  if (kind === 'ipv6' && /^::ffff:/i.test(ip)) return 'IPv4-mapped';
  if (address === '255.255.255.255') return 'broadcast';
  return undefined;
}

/** Why the URL may not be used as an outbound target, judged without DNS; undefined when it may. */
export function urlRefusal(text: string, allowPrivate: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `scheme "${url.protocol.replace(/:$/, '')}" is not http or https`;
  if (url.username || url.password)
    return 'credentials in the URL are not allowed (they would be logged); use a secret in the path or the signature';
  if (allowPrivate) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_NAMES.has(host.replace(/\.$/, ''))) return `host "${host}" is a cloud metadata service`;
  if (host === 'localhost' || host.endsWith('.localhost')) return `host "${host}" is loopback`;
  if (isIP(host) !== 0) {
    const why = addressRefusal(host);
    if (why) return `address ${host} is ${why}`;
  }
  return undefined;
}

/** Resolves `host` and says why none of its addresses may be used, if so (undefined: all public). */
export async function resolvedRefusal(host: string): Promise<string | undefined> {
  const addresses = await new Promise<LookupAddress[]>((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, found) => (err ? reject(err) : resolve(found))),
  );
  for (const a of addresses) {
    const why = addressRefusal(a.address);
    if (why) return `${host} resolves to ${a.address}, which is ${why}`;
  }
  return undefined;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for node:http / node:net that refuses names resolving to a refused address, so the
 * socket connects only to addresses that passed the check.
 */
export function guardedLookup(hostname: string, options: { all?: boolean; family?: number } | undefined, callback: LookupCallback): void {
  dnsLookup(hostname, { ...(options?.family ? { family: options.family } : {}), all: true }, (err, addresses) => {
    if (err) return callback(err, options?.all ? [] : '', 4);
    for (const a of addresses) {
      const why = addressRefusal(a.address);
      if (why) {
        const refusal = Object.assign(new Error(`${hostname} resolves to ${a.address}, which is ${why}`), { code: 'EADDRREFUSED' });
        return callback(refusal, options?.all ? [] : '', 4);
      }
    }
    if (options?.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4);
    callback(null, first.address, first.family);
  });
}
