// Who is calling: the organization of an API key, however the key came (an Authorization
// header, an `authentication` task first in a REST array, or the first WebSocket message), and
// the protocol errors for a missing or unknown key. REST, WebSocket and the history API all
// authenticate here, so a key is refused the same way everywhere.

import { authenticate } from '../accounts/api-keys.js';
import type { AccountStore, Organization } from '../ledger/types.js';
import { ProtocolError, type ErrorObject } from '../protocol/errors.js';
import { bearerToken } from './bearer.js';

type Details = Omit<ErrorObject, 'code' | 'message'>;

/** Where the caller should have put a key, for the missingApiKey message. */
export const HOW_TO_AUTHENTICATE = {
  rest: 'send an Authorization: Bearer header or an authentication task first in the array',
  bearer: 'send an Authorization: Bearer header',
  authenticationTask: "the authentication task holds no 'apiKey'",
  websocket:
    'authenticate first: send [{"taskType":"authentication","apiKey":"<key>"}] as the first message on this connection',
} as const;

export function missingApiKey(how: keyof typeof HOW_TO_AUTHENTICATE, details: Details = {}): ProtocolError {
  const fields = { parameter: 'apiKey', type: 'string', ...details };
  return new ProtocolError('missingApiKey', { how: HOW_TO_AUTHENTICATE[how] }, fields);
}

export function invalidApiKey(details: Details = {}): ProtocolError {
  return new ProtocolError(
    'invalidApiKey',
    { reason: 'ask the operator of this server for a key (runtrail keys create)' },
    { parameter: 'apiKey', type: 'string', ...details },
  );
}

/** The organization of a key given as a value (an authentication task's `apiKey`), or the protocol's 401. */
export async function organizationOfKey(
  accounts: AccountStore,
  key: unknown,
  details: Details = {},
): Promise<Organization> {
  if (typeof key !== 'string') throw missingApiKey('authenticationTask', details);
  const org = await authenticate(accounts, key);
  if (!org) throw invalidApiKey(details);
  return org;
}

/**
 * The organization of an Authorization header's Bearer key, or the protocol's 401: invalidApiKey
 * for a malformed header (another scheme, an empty token) as for an unknown key.
 */
export async function organizationOfHeader(
  accounts: AccountStore,
  header: string,
  details: Details = {},
): Promise<Organization> {
  const token = bearerToken(header);
  const org = token === undefined ? undefined : await authenticate(accounts, token);
  if (!org) throw invalidApiKey(details);
  return org;
}
