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
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24',
  '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24',
  '224.0.0.0/4', '240.0.0.0/4',
]) {
  const [net, bits] = cidr.split('/');
  NON_PUBLIC.addSubnet(net!, Number(bits), 'ipv4');
}
for (const cidr of ['::/96', '100::/64', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8']) {
  const [net, bits] = cidr.split('/');
  NON_PUBLIC.addSubnet(net!, Number(bits), 'ipv6');
}

/** Whether an address is publicly routable; IPv4 inside IPv6 (mapped, NAT64) is judged as IPv4. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !NON_PUBLIC.check(address, 'ipv4');
  if (family !== 6) return false;
  const embedded = embeddedIpv4(address);
  if (embedded !== undefined) return !NON_PUBLIC.check(embedded, 'ipv4');
  return !NON_PUBLIC.check(address, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::a.b.c.d) address. */
function embeddedIpv4(address: string): string | undefined {
  const groups = expandIpv6(address);
  if (!groups) return undefined;
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  if (!mapped && !nat64) return undefined;
  return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
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
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses.map((a) => a.address)))),
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
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundTargetRefused('It must be an absolute http:// or https:// URL.');
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
            const err = Object.assign(new Error(`refusing to connect to ${hostname} (${refused ?? 'no address'}): not a public address`), {
              code: 'EREFUSEDTARGET',
            });
            callback(err, '', 0);
            return;
          }
          const entries = addresses.map((address) => ({ address, family: isIP(address) }));
          if (options.all) callback(null, entries);
          else callback(null, entries[0]!.address, entries[0]!.family);
        },
        (err: NodeJS.ErrnoException) => callback(err, '', 0),
      );
    };
  }

  private permits(address: string): boolean {
    return isPublicAddress(address) || this.policy.allowsAddress(address);
  }
}
