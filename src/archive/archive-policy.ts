// An organization's archive policy: every output, none, or those up to N bytes each. Written
// `all`, `none` or a number of bytes in RUNTRAIL_ARCHIVE_OUTPUTS (the server default) and in
// `runtrail keys archive --policy`.

import type { ArchivePolicy } from '../ledger/archive-types.js';

/** Parses `all`, `none` or a whole number of bytes (1 and up); undefined for anything else. */
export function parseArchivePolicy(text: string): ArchivePolicy | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'all' || t === 'none') return { mode: t };
  if (!/^\d+$/.test(t)) return undefined;
  const maxBytes = Number(t);
  return Number.isSafeInteger(maxBytes) && maxBytes > 0 ? { mode: 'limit', maxBytes } : undefined;
}

export function describePolicy(policy: ArchivePolicy): string {
  if (policy.mode === 'limit') return `outputs up to ${policy.maxBytes} bytes each`;
  return policy.mode === 'all' ? 'every output' : 'no outputs';
}

/** The largest output the policy keeps, bounded by the server's own limit; 0 keeps nothing. */
export function keptBytes(policy: ArchivePolicy, serverMaxBytes: number): number {
  if (policy.mode === 'none') return 0;
  return policy.mode === 'all' ? serverMaxBytes : Math.min(policy.maxBytes, serverMaxBytes);
}
