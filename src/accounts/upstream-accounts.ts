// Organizations' own upstream accounts (`runtrail keys upstream`): which URL and key an upstream
// call uses for a task. The server-wide upstream (RUNTRAIL_UPSTREAM_URL + _API_KEY) is the
// default (without one, an organization holding no account is answered providerUnavailable);
// an organization holding an account of the name its route asks for (`default` when the
// route names none) calls with that instead. Keys are sealed at rest with RUNTRAIL_ACCOUNTS_KEY
// and opened only here, per call; they never reach a log, a response or the ledger.

import type { Logger } from 'pino';
import { ProtocolError } from '../protocol/errors.js';
import type { UpstreamAccount, UpstreamAccountStore } from '../ledger/types.js';
import { DEFAULT_ACCOUNT, SERVER_ACCOUNT } from './account-name.js';
import { SealedSecretError, openSecret, sealSecret } from './sealed-secret.js';
import { TtlCache } from './ttl-cache.js';

/** What one upstream call goes with. `account` is null for the server-wide upstream. */
export interface UpstreamTarget {
  url: string;
  apiKey: string;
  account: string | null;
}

/** How the upstream engine finds its target: called once per forwarded task. */
export type UpstreamTargetResolver = (orgId: string, routeAccount: string | undefined) => Promise<UpstreamTarget>;

/**
 * How long a looked-up account is reused: an account set or cleared with the CLI applies to new
 * tasks within this long, on every replica, without a database read per task.
 */
const ACCOUNT_CACHE_MS = 1000;

const SUBJECT = 'The upstream provider';

/** The additional data an account's key is sealed with: its organization and name. */
function sealContext(orgId: string, name: string): string {
  return `runtrail upstream account\n${orgId}\n${name}`;
}

export function sealAccountKey(key: Buffer, orgId: string, name: string, apiKey: string): string {
  return sealSecret(key, apiKey, sealContext(orgId, name));
}

export class UpstreamAccounts {
  private readonly cache = new TtlCache<UpstreamAccount | null>(ACCOUNT_CACHE_MS);

  constructor(
    private readonly store: UpstreamAccountStore,
    private readonly accountsKey: Buffer | undefined,
    /** The server-wide upstream; undefined when the server forwards with organizations' own accounts only. */
    private readonly server: { url: string; apiKey: string } | undefined,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  /** The resolver the upstream engine calls. */
  readonly resolve: UpstreamTargetResolver = async (orgId, routeAccount) => {
    if (routeAccount === SERVER_ACCOUNT) return this.serverWide(routeAccount);
    const name = routeAccount ?? DEFAULT_ACCOUNT;
    const account = await this.cache.get(
      `${orgId}\n${name}`,
      async () => (await this.store.findAccount(orgId, name)) ?? null,
    );
    if (!account) return this.serverWide(name);
    if (!this.accountsKey) {
      this.log.warn(
        { orgId, account: name },
        'an organization holds an upstream account but RUNTRAIL_ACCOUNTS_KEY is not set',
      );
      throw unusable(name, 'the server cannot open it (RUNTRAIL_ACCOUNTS_KEY is not set); ask its operator');
    }
    try {
      return {
        url: account.url,
        apiKey: openSecret(this.accountsKey, account.sealedKey, sealContext(orgId, name)),
        account: name,
      };
    } catch (err) {
      if (!(err instanceof SealedSecretError)) throw err;
      this.log.warn(
        { orgId, account: name },
        `an organization's upstream account key does not open: ${err.message} (was it stored with another RUNTRAIL_ACCOUNTS_KEY?)`,
      );
      throw unusable(
        name,
        'the server cannot open its key; ask its operator to store it again (runtrail keys upstream)',
      );
    }
  };

  /** The server-wide upstream, or (accounts only) providerUnavailable: the organization has no account of that name. */
  private serverWide(name: string): UpstreamTarget {
    if (this.server) return { ...this.server, account: null };
    throw new ProtocolError('providerUnavailable', {
      subject: SUBJECT,
      reason:
        `your organization has no upstream account '${name}', and this server forwards tasks only with ` +
        "organizations' own accounts; ask its operator to add one (runtrail keys upstream)",
    });
  }

  /** Told when an organization's account was refused, so the operator's log says which and why. */
  refused(orgId: string, account: string, err: ProtocolError): void {
    this.log.warn(
      { orgId, account, code: err.code },
      `the upstream refused an organization's upstream account: ${err.message}`,
    );
  }

  /** What /healthz and the start say when organizations hold accounts this server cannot open. */
  async problem(): Promise<string | undefined> {
    if (this.accountsKey) return undefined;
    const accounts = await this.store.listAccounts();
    if (accounts.length === 0) return undefined;
    return `${accounts.length} organization upstream account(s) exist but RUNTRAIL_ACCOUNTS_KEY is not set: their tasks fail with providerUnavailable`;
  }
}

function unusable(account: string, why: string): ProtocolError {
  return new ProtocolError('providerUnavailable', {
    subject: SUBJECT,
    reason: `your organization's upstream account '${account}' cannot be used: ${why}`,
  });
}
