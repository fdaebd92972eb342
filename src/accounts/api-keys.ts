// API key material. A key is 32 random bytes shown once to its owner; the server keeps only its
// SHA-256 hash (keys are high-entropy, so a slow password hash buys nothing) and a short prefix
// to tell keys apart in listings.

import { createHash, randomBytes } from 'node:crypto';
import type { AccountStore, ApiKeyInfo, Organization } from '../ledger/types.js';

const KEY_PREFIX = 'rt_';

/**
 * The lengths a key may have. Listings show a key's first 11 characters, so a short key would be
 * stored and shown almost whole; authentication refuses anything longer than the maximum without
 * hashing it, so a longer configured key could never be used.
 */
export const API_KEY_MIN_LENGTH = 32;
export const API_KEY_MAX_LENGTH = 512;

/** Why `key` cannot be a configured key (RUNTRAIL_API_KEY), or undefined when it can. */
export function apiKeyProblem(key: string): string | undefined {
  if (key.length < API_KEY_MIN_LENGTH || key.length > API_KEY_MAX_LENGTH) {
    return `must be ${API_KEY_MIN_LENGTH} to ${API_KEY_MAX_LENGTH} characters long (it has ${key.length}); \`runtrail keys create\` makes a fitting one`;
  }
  // It travels in an Authorization header or a JSON string: printable ASCII without spaces keeps it intact in both.
  if (!/^[\x21-\x7e]+$/.test(key)) return 'may hold only printable ASCII characters, without spaces';
  return undefined;
}

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function displayPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 8);
}

/** Creates a key for the organization (creating the organization if needed); returns the key once. */
export async function createApiKey(
  accounts: AccountStore,
  orgName: string,
  label: string | null,
): Promise<{ key: string; info: ApiKeyInfo }> {
  const org = await accounts.ensureOrganization(orgName);
  const key = generateApiKey();
  const info = await accounts.addApiKey(org.id, hashApiKey(key), displayPrefix(key), label);
  return { key, info };
}

/** Ensures organization `orgName` holds `key` (RUNTRAIL_API_KEY); a no-op when it already does. */
export async function ensureApiKey(accounts: AccountStore, orgName: string, key: string): Promise<Organization> {
  const hash = hashApiKey(key);
  const holder = await accounts.findOrganizationByKeyHash(hash);
  if (holder) return holder;
  const org = await accounts.ensureOrganization(orgName);
  await accounts.addApiKey(org.id, hash, displayPrefix(key), 'RUNTRAIL_API_KEY');
  return org;
}

export async function authenticate(accounts: AccountStore, key: string): Promise<Organization | undefined> {
  if (key.length === 0 || key.length > API_KEY_MAX_LENGTH) return undefined;
  return accounts.findOrganizationByKeyHash(hashApiKey(key));
}
