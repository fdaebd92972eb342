// An independent Standard Webhooks verifier (standardwebhooks.com), written from the
// specification for the tests and sharing no code with src/webhooks/signing.ts.

import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks verification written from the specification, independently of
 * src/webhooks/signing.ts: HMAC-SHA256 over "id.timestamp.body" keyed with the base64 part of
 * the secret, any of the space-separated "v1,<base64>" signatures may match, timestamp within
 * the tolerance.
 */
export function verifyStandardWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  nowSec = Date.now() / 1000,
): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string') return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSec - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.split('_').pop()!, 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  return signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',');
    const given = Buffer.from(value ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}
