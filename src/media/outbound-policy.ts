// Which hosts runtrail may contact on a caller's behalf (image inputs given as URLs). Entries
// of RUNTRAIL_OUTBOUND_ALLOW are host names, IP addresses or CIDR blocks; nothing else is reached.

import { BlockList, isIP } from 'node:net';

export class OutboundPolicy {
  private readonly hosts = new Set<string>();
  private readonly blocks = new BlockList();

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.toLowerCase().replace(/^\[|\]$/g, '');
      const [addr, bits] = entry.split('/');
      const family = isIP(addr ?? '');
      if (family !== 0 && bits !== undefined) this.blocks.addSubnet(addr!, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
      else if (family !== 0) this.blocks.addAddress(addr!, family === 6 ? 'ipv6' : 'ipv4');
      else this.hosts.add(entry);
    }
  }

  allows(url: URL): boolean {
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    if (this.hosts.has(host)) return true;
    const family = isIP(host);
    return family !== 0 && this.blocks.check(host, family === 6 ? 'ipv6' : 'ipv4');
  }
}
