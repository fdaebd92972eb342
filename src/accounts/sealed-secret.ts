// Secrets kept at rest, sealed with the server's accounts key (RUNTRAIL_ACCOUNTS_KEY):
// AES-256-GCM with a fresh 96-bit nonce per seal, and the owner and purpose of the secret as
// additional data, so a sealed value copied onto another organization's row does not open.
// Sealed form: `v1.<nonce>.<tag>.<ciphertext>`, each part base64url.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const NONCE_BYTES = 12;
const KEY_BYTES = 32;

/** A sealed value that does not open: wrong accounts key, another owner's row, or damaged. */
export class SealedSecretError extends Error {}

/**
 * The 32-byte key from its written form: 64 hex digits, or base64 / base64url of 32 bytes.
 * Throws with what is wrong (never echoing the value).
 */
export function parseAccountsKey(written: string): Buffer {
  const text = written.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === KEY_BYTES) return bytes;
  }
  throw new Error('must be 32 random bytes written as 64 hex digits or as base64 (`openssl rand -hex 32` makes one)');
}

export function sealSecret(key: Buffer, secret: string, context: string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return [VERSION, nonce, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

export function openSecret(key: Buffer, sealed: string, context: string): string {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw new SealedSecretError('not a sealed value this server reads');
  const [nonce, tag, body] = parts.slice(1).map((p) => Buffer.from(p, 'base64url')) as [Buffer, Buffer, Buffer];
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    throw new SealedSecretError('it does not open with this accounts key');
  }
}
