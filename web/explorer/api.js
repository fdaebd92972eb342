// The explorer's one way to the server: the history and dashboard APIs with the signed-in key
// (kept in this tab's sessionStorage), errors turned into ApiError with the protocol's code.

const KEY_STORAGE = 'runtrail.apiKey';

export const session = {
  key: sessionStorage.getItem(KEY_STORAGE),
  onSignedOut: () => {},
  signIn(key) {
    this.key = key;
    sessionStorage.setItem(KEY_STORAGE, key);
  },
  signOut() {
    this.key = null;
    sessionStorage.removeItem(KEY_STORAGE);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    const first = body && Array.isArray(body.errors) ? body.errors[0] : undefined;
    super(first ? first.message : `HTTP ${status}`);
    this.status = status;
    this.code = first ? first.code : undefined;
  }
}

/** GET (or another method) of an API path; the parsed body, or ApiError. A 401 signs out. */
export async function api(path, init = {}) {
  const res = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${session.key}`, ...(init.headers || {}) },
    cache: 'no-store',
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.status === 401) {
    session.onSignedOut('Your API key was not accepted. Sign in again.');
    throw new ApiError(res.status, body);
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

/** Whether a key is accepted, without keeping it. */
export async function checkKey(key) {
  const res = await fetch('/api/tasks?limit=1', { headers: { authorization: `Bearer ${key}` } });
  if (res.ok) return null;
  return new ApiError(res.status, await res.json().catch(() => undefined));
}

let keysOnce;
/** The organization's API keys (ids, prefixes, labels), fetched once per sign-in. */
export function apiKeys() {
  keysOnce ??= api('/api/keys').then(
    (b) => b.data,
    () => [],
  );
  return keysOnce;
}

export function forgetKeys() {
  keysOnce = undefined;
}
