// Server-side request forgery guard for webhookURL and uploadEndpoint: a URL is refused when its
// host resolves to any private, loopback, link-local or otherwise non-public address, unless
// RUNTRAIL_OUTBOUND_ALLOW lists the host or the address. It is checked when the task is
// submitted, and again on every connection (the lookup below), so a name that later resolves
// elsewhere (DNS rebinding) still cannot reach an internal address.

import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { OutboundPolicy } from '../media/outbound-policy.js';

const NON_PUBLIC = new BlockList();
for (const cidr of [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
]) {
  const [net, bits] = cidr.split('/');
  NON_PUBLIC.addSubnet(net!, Number(bits), 'ipv4');
}
for (const cidr of ['::/96', '100::/64', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8']) {
  const [net, bits] = cidr.split('/');
  NON_PUBLIC.addSubnet(net!, Number(bits), 'ipv6');
}

/**
 * Whether an address is publicly routable. An IPv6 address that carries an IPv4 address (mapped,
 * translated, NAT64, 6to4) is judged by the IPv4 address it carries, since that is where a packet
 * to it ends up.
 */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !NON_PUBLIC.check(address, 'ipv4');
  if (family !== 6) return false;
  const embedded = embeddedIpv4(address);
  if (embedded !== undefined) return embedded.every((v4) => !NON_PUBLIC.check(v4, 'ipv4'));
  return !NON_PUBLIC.check(address, 'ipv6');
}

/**
 * The IPv4 addresses an IPv6 address carries: IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated
 * `::ffff:0:a.b.c.d` (RFC 6145), well-known NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`
 * (RFC 3056), and for the local-use NAT64 prefix `64:ff9b:1::/48` (RFC 8215) every place RFC 6052
 * may put it (the operator picks a prefix of 48, 56, 64 or 96 bits inside it, which the address
 * does not tell). Undefined for an address that carries none.
 */
function embeddedIpv4(address: string): string[] | undefined {
  const g = expandIpv6(address);
  if (!g) return undefined;
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const v4 = (hi: number, lo: number) => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
  if (zero(0, 5) && g[5] === 0xffff) return [v4(g[6]!, g[7]!)];
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return [v4(g[6]!, g[7]!)];
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return [v4(g[6]!, g[7]!)];
  if (g[0] === 0x2002) return [v4(g[1]!, g[2]!)];
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) {
    // Bits 64–71 (the "u" octet) never hold address bits.
    const bytes = g.flatMap((x) => [x >> 8, x & 0xff]);
    const at = (...i: number[]) => i.map((k) => bytes[k]).join('.');
    return [at(6, 7, 9, 10), at(7, 9, 10, 11), at(9, 10, 11, 12), at(12, 13, 14, 15)];
  }
  return undefined;
}

function expandIpv6(address: string): number[] | undefined {
  let text = address.toLowerCase().split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -dotted[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = 8 - left.length - right.length;
  if (fill < 0 || (tail === undefined && fill !== 0)) return undefined;
  const groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

export class OutboundTargetRefused extends Error {}

type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses.map((a) => a.address)),
    ),
  );

export class OutboundTargetGuard {
  constructor(
    private readonly policy: OutboundPolicy,
    private readonly resolve: Resolver = systemResolver,
  ) {}

  /** Parses and checks a webhook or upload URL; throws OutboundTargetRefused saying why. */
  async check(raw: string): Promise<URL> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutboundTargetRefused('It must be an absolute http:// or https:// URL.');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new OutboundTargetRefused('It must be an absolute http:// or https:// URL.');
    if (this.policy.allows(url)) return url;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: string[];
    if (isIP(host) !== 0) addresses = [host];
    else {
      try {
        addresses = await this.resolve(host);
      } catch {
        throw new OutboundTargetRefused(`The host '${host}' could not be resolved.`);
      }
      if (addresses.length === 0) throw new OutboundTargetRefused(`The host '${host}' could not be resolved.`);
    }
    const refused = addresses.find((a) => !this.permits(a));
    if (refused !== undefined) {
      throw new OutboundTargetRefused(
        `The host '${host}' resolves to ${refused}, a private, loopback or link-local address this server does not contact` +
          ' (an operator can allow it with RUNTRAIL_OUTBOUND_ALLOW).',
      );
    }
    return url;
  }

  /**
   * A `lookup` for http.request that resolves like the system does and fails when any address
   * is not permitted, so a connection only ever goes to an address that passed the check.
   * A host name the allow-list names is trusted with whatever it resolves to.
   */
  lookupFor(url: URL): LookupFunction {
    const trustedHost = this.policy.allows(url);
    return (hostname, options, callback) => {
      this.resolve(hostname).then(
        (addresses) => {
          const refused = trustedHost ? undefined : addresses.find((a) => !this.permits(a));
          if (refused !== undefined || addresses.length === 0) {
            const err = Object.assign(
              new Error(`refusing to connect to ${hostname} (${refused ?? 'no address'}): not a public address`),
              {
                code: 'EREFUSEDTARGET',
              },
            );
            callback(err, '', 0);
            return;
          }
          const entries = addresses.map((address) => ({ address, family: isIP(address) }));
          if (options.all) callback(null, entries);
          else callback(null, entries[0]!.address, entries[0]!.family);
        },
        (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
      );
    };
  }

  private permits(address: string): boolean {
    return isPublicAddress(address) || this.policy.allowsAddress(address);
  }
}
