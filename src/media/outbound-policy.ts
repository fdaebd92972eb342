// Which hosts runtrail may contact on a caller's behalf. Entries of RUNTRAIL_OUTBOUND_ALLOW are
// host names, IP addresses or CIDR blocks. Image inputs given as URLs reach nothing else;
// webhooks and uploads reach public addresses, and private ones only when listed here
// (webhooks/outbound-target.ts).

import { BlockList, isIP } from 'node:net';

export class OutboundPolicy {
  private readonly hosts = new Set<string>();
  private readonly blocks = new BlockList();

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.toLowerCase().replace(/^\[|\]$/g, '');
      const [addr, bits] = entry.split('/');
      const family = isIP(addr ?? '');
      if (family !== 0 && bits !== undefined)
        this.blocks.addSubnet(addr!, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
      else if (family !== 0) this.blocks.addAddress(addr!, family === 6 ? 'ipv6' : 'ipv4');
      else this.hosts.add(entry);
    }
  }

  allows(url: URL): boolean {
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    return this.hosts.has(host) || this.allowsAddress(host);
  }

  /** Whether a resolved address is on the list (an IP entry or inside a CIDR entry). */
  allowsAddress(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.blocks.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}
