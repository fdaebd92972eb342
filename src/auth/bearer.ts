// The Authorization header's Bearer scheme, read in one place for every endpoint that takes it:
// the task API (/v1), the history and dashboard API and /metrics.

import { createHash, timingSafeEqual } from 'node:crypto';

/** The token of an `Authorization: Bearer <token>` header (any case of `Bearer`); undefined when malformed. */
export function bearerToken(header: string): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** Whether `header` carries exactly `expected` as its Bearer token, compared in constant time. */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  const token = header === undefined ? undefined : bearerToken(header);
  if (token === undefined) return false;
  // Digests of equal length, so the comparison takes the same time whatever was sent.
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(token), digest(expected));
}
