// `runtrail keys upstream` (an organization's own upstream URL and key) and `runtrail keys limit`
// (budgets and rate limits per organization or API key), and how `keys list` shows both.

import type { Command } from 'commander';
import { loadConfig } from '../config.js';
import { accountNameProblem, DEFAULT_ACCOUNT, SERVER_ACCOUNT } from '../accounts/account-name.js';
import { sealAccountKey } from '../accounts/upstream-accounts.js';
import { UsageLimiter, type UsageReport } from '../limits/usage-limiter.js';
import type { ApiKeyInfo, LimitScope, Storage, UsageLimits } from '../ledger/types.js';
import { ORG_HELP, organization, storageOptions, UsageError, withCliStorage } from './cli-storage.js';

const say = (line: string): void => {
  process.stdout.write(line + '\n');
};

/** Longest upstream key taken: far above any real one, and bounded so a mistake cannot store a file. */
const MAX_UPSTREAM_KEY_LENGTH = 4096;

export function registerKeyLimitCommands(keys: Command): void {
  storageOptions(keys.command('upstream'))
    .description("show, set or clear an organization's own upstream account (its tasks then go upstream with its key)")
    .option('--org <name>', ORG_HELP)
    .option('--account <name>', `the account's name (routes may name one; default '${DEFAULT_ACCOUNT}')`)
    .option(
      '--url <url>',
      "the upstream's URL: https://api.runware.ai/v1 (REST), or wss://ws-api.runware.ai/v1 for one persistent WebSocket",
    )
    .option('--key <key>', "the organization's key for that upstream; '-' reads it from standard input")
    .option('--clear', 'remove the account: its tasks use the server-wide upstream again')
    .action(
      async (opts: {
        org?: string;
        account?: string;
        url?: string;
        key?: string;
        clear?: boolean;
        dataDir?: string;
      }) => {
        const name = opts.account ?? DEFAULT_ACCOUNT;
        const nameProblem = accountNameProblem(name);
        if (nameProblem !== undefined) throw new UsageError(`--account ${nameProblem}`);
        if (name === SERVER_ACCOUNT)
          throw new UsageError(`'${SERVER_ACCOUNT}' names the server-wide upstream in routes; pick another name.`);
        const setting = opts.url !== undefined || opts.key !== undefined;
        if (setting && opts.clear) throw new UsageError('Give --url and --key, or --clear, not both.');
        if (setting && (opts.url === undefined || opts.key === undefined))
          throw new UsageError('Give --url and --key together.');
        const sealWith = setting ? accountsKeyOrExplain() : undefined;
        const url = opts.url === undefined ? undefined : upstreamUrl(opts.url);
        const apiKey =
          opts.key === undefined ? undefined : upstreamKey(opts.key === '-' ? await readStdin() : opts.key);
        await withCliStorage(opts, async ({ storage }) => {
          const org = await organization(storage, opts.org);
          if (opts.clear) {
            const gone = await storage.upstreamAccounts.clearAccount(org.id, name);
            say(
              gone
                ? `Removed upstream account '${name}' of organization '${org.name}'; its tasks use the server-wide upstream.`
                : `Organization '${org.name}' has no upstream account '${name}'.`,
            );
            return;
          }
          if (sealWith && url !== undefined && apiKey !== undefined) {
            await storage.upstreamAccounts.setAccount({
              orgId: org.id,
              name,
              url,
              sealedKey: sealAccountKey(sealWith, org.id, name, apiKey),
              updatedAt: Date.now(),
            });
            say(`Organization '${org.name}' sends its tasks upstream to ${url} with its own key (account '${name}').`);
            say('Running servers use it within a second (a connection open with an older key is closed).');
            return;
          }
          const accounts = await storage.upstreamAccounts.listAccounts(org.id);
          if (accounts.length === 0) say(`Organization '${org.name}' uses the server-wide upstream.`);
          for (const a of accounts)
            say(`${a.name.padEnd(16)}  ${a.url}  (key stored sealed, set ${new Date(a.updatedAt).toISOString()})`);
        });
      },
    );

  storageOptions(keys.command('limit'))
    .description('show or set budgets and rate limits of an organization (--org) or one API key (--key)')
    .option('--org <name>', ORG_HELP)
    .option('--key <id-or-prefix>', 'an API key (its id or shown prefix) instead of the whole organization')
    .option('--per-second <n>', "tasks it may start per second ('none': no limit)")
    .option('--per-minute <n>', "tasks it may start per minute ('none': no limit)")
    .option('--spend-per-day <usd>', "recorded cost it may reach per UTC day ('none': no budget)")
    .option('--spend-per-month <usd>', "recorded cost it may reach per UTC month ('none': no budget)")
    .option('--clear', 'remove every limit')
    .action(
      async (opts: {
        org?: string;
        key?: string;
        perSecond?: string;
        perMinute?: string;
        spendPerDay?: string;
        spendPerMonth?: string;
        clear?: boolean;
        dataDir?: string;
      }) => {
        if (opts.org !== undefined && opts.key !== undefined) throw new UsageError('Give --org or --key, not both.');
        const changes: Partial<UsageLimits> = {};
        if (opts.perSecond !== undefined) changes.perSecond = count(opts.perSecond, '--per-second');
        if (opts.perMinute !== undefined) changes.perMinute = count(opts.perMinute, '--per-minute');
        if (opts.spendPerDay !== undefined) changes.spendPerDay = amount(opts.spendPerDay, '--spend-per-day');
        if (opts.spendPerMonth !== undefined) changes.spendPerMonth = amount(opts.spendPerMonth, '--spend-per-month');
        if (opts.clear && Object.keys(changes).length > 0) throw new UsageError('Give limits or --clear, not both.');
        await withCliStorage(opts, async ({ storage }) => {
          const target = await limitTarget(storage, opts.org, opts.key);
          const current = (await storage.limits.limitsOf(target.scope, target.scopeId)) ?? NO_LIMITS;
          if (opts.clear || Object.keys(changes).length > 0) {
            await storage.limits.setLimits(
              target.scope,
              target.scopeId,
              opts.clear ? NO_LIMITS : { ...current, ...changes },
            );
          }
          const report = await new UsageLimiter(storage.limits).report(target.orgId, target.scope, target.scopeId);
          say(`${target.label}: ${describeUsage(report)}`);
          if (opts.clear || Object.keys(changes).length > 0) say('Running servers apply it within a second.');
        });
      },
    );
}

const NO_LIMITS: UsageLimits = { perSecond: null, perMinute: null, spendPerDay: null, spendPerMonth: null };

/** The limits of every key and organization for `keys list`: per key, its own and its organization's. */
export async function usageOfKeys(
  storage: Storage,
  keys: readonly ApiKeyInfo[],
): Promise<Map<string, { apiKey: UsageReport | null; organization: UsageReport | null }>> {
  const limiter = new UsageLimiter(storage.limits);
  const byOrg = new Map<string, Promise<UsageReport | undefined>>();
  const out = new Map<string, { apiKey: UsageReport | null; organization: UsageReport | null }>();
  for (const k of keys) {
    if (!byOrg.has(k.orgId)) byOrg.set(k.orgId, limiter.report(k.orgId, 'org', k.orgId));
    const [own, org] = await Promise.all([limiter.report(k.orgId, 'key', k.id), byOrg.get(k.orgId)!]);
    out.set(k.id, { apiKey: own ?? null, organization: org ?? null });
  }
  return out;
}

/** `2/s, 100/min, 5 USD/day (1.25 spent today), …`, or `no limits`. */
export function describeUsage(report: UsageReport | null | undefined): string {
  if (!report) return 'no limits';
  const l = report.limits;
  const parts: string[] = [];
  if (l.perSecond !== null) parts.push(`${l.perSecond}/s`);
  if (l.perMinute !== null) parts.push(`${l.perMinute}/min`);
  if (l.spendPerDay !== null) parts.push(`${l.spendPerDay} USD/day (${report.spentToday} spent today)`);
  if (l.spendPerMonth !== null) parts.push(`${l.spendPerMonth} USD/month (${report.spentThisMonth} spent this month)`);
  return parts.length === 0 ? 'no limits' : parts.join(', ');
}

async function limitTarget(
  storage: Storage,
  orgName: string | undefined,
  keyRef: string | undefined,
): Promise<{ scope: LimitScope; scopeId: string; orgId: string; label: string }> {
  if (keyRef === undefined) {
    const org = await organization(storage, orgName);
    return { scope: 'org', scopeId: org.id, orgId: org.id, label: `Organization '${org.name}'` };
  }
  const matches = (await storage.accounts.listApiKeys()).filter((k) => k.id === keyRef || k.prefix === keyRef);
  if (matches.length === 0) throw new UsageError(`No API key with id or prefix '${keyRef}'.`);
  if (matches.length > 1)
    throw new UsageError(`'${keyRef}' is the prefix of ${matches.length} keys: give the key's id.`);
  const k = matches[0]!;
  return { scope: 'key', scopeId: k.id, orgId: k.orgId, label: `API key ${k.id} (${k.prefix}…, '${k.orgName}')` };
}

function count(raw: string, flag: string): number | null {
  if (raw === 'none') return null;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 1_000_000_000)
    throw new UsageError(`${flag} must be a whole number from 1, or 'none' (got "${raw}").`);
  return Number(raw);
}

function amount(raw: string, flag: string): number | null {
  if (raw === 'none') return null;
  const n = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || !Number.isFinite(n))
    throw new UsageError(`${flag} must be an amount in USD (0 or more), or 'none' (got "${raw}").`);
  return n;
}

function accountsKeyOrExplain(): Buffer {
  const key = loadConfig(process.env).accountsKey;
  if (!key)
    throw new UsageError(
      "Set RUNTRAIL_ACCOUNTS_KEY (the same as the server's) to store an upstream key: it is kept sealed with it (`openssl rand -hex 32` makes one).",
    );
  return key;
}

function upstreamUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url must be an http(s):// or ws(s):// URL (got "${raw.slice(0, 200)}").`);
  }
  // ws:// and wss:// keep one persistent WebSocket to the upstream, as RUNTRAIL_UPSTREAM_URL does.
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol))
    throw new UsageError('--url must be an http(s):// or ws(s):// URL.');
  // A URL is shown in listings and kept unsealed: credentials belong in --key.
  if (url.username !== '' || url.password !== '')
    throw new UsageError('--url must not hold credentials; give the key with --key.');
  return raw;
}

function upstreamKey(raw: string): string {
  const key = raw.trim();
  if (key.length === 0 || key.length > MAX_UPSTREAM_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key))
    throw new UsageError(`--key must be 1 to ${MAX_UPSTREAM_KEY_LENGTH} printable ASCII characters without spaces.`);
  return key;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_UPSTREAM_KEY_LENGTH + 2) throw new UsageError('The key on standard input is too long.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
