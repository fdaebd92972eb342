// Organizations' own upstream accounts (docs/engines.md, "Upstream accounts per organization"),
// with two runtrail servers chained: A forwards to B's /v1. B holds three organizations: its
// `default` (A's server-wide key), `acme-up` and `acme-eu` (the keys A's organization `acme`
// stores with `runtrail keys upstream`). What B records under which organization shows which key
// each task went with: acme's tasks with acme's account, a route naming `eu` with that one, a
// route naming `server` and every other organization with the server-wide key. A revoked acme
// key answers acme's callers providerAuthenticationFailed and tells A's operator; a server
// without (or with another) RUNTRAIL_ACCOUNTS_KEY says so at start and in /healthz and answers
// acme providerUnavailable. The stored keys are nowhere in A's data, logs or answers.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { databaseText, imageTask, startServer, type TestServer } from './helpers/server.js';
import { createOrgKey } from './helpers/org-key.js';
import { cliOk, runCli } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const ACCOUNTS_KEY = randomBytes(32).toString('hex');
const ROUTES = JSON.stringify([
  { model: 'civitai:*', engine: 'upstream', account: 'eu' },
  { model: 'acme:*', engine: 'upstream', account: 'server' },
  { engine: 'upstream' },
]);

let b: TestServer;
let a: TestServer;
let acmeUpKey: string;
let acmeEuKey: string;
let acmeKey: string;
const printed: string[] = [];

function aEnv(accountsKey: string | undefined): Record<string, string> {
  return {
    RUNTRAIL_UPSTREAM_URL: `${b.url}/v1`,
    RUNTRAIL_UPSTREAM_API_KEY: b.key,
    RUNTRAIL_UPSTREAM_RETRY_BACKOFF_MS: '10',
    RUNTRAIL_ROUTES: ROUTES,
    ...(accountsKey !== undefined ? { RUNTRAIL_ACCOUNTS_KEY: accountsKey } : {}),
  };
}

before(async () => {
  b = await startServer();
  acmeUpKey = await createOrgKey(b, 'acme-up');
  acmeEuKey = await createOrgKey(b, 'acme-eu');
  a = await startServer({ env: aEnv(ACCOUNTS_KEY) });
  acmeKey = await createOrgKey(a, 'acme');
  const env = { RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY };
  printed.push(
    await cliOk(['keys', 'upstream', '--org', 'acme', '--url', `${b.url}/v1`, '--key', acmeUpKey], {
      dataDir: a.dataDir,
      env,
    }),
    // The key may come on standard input, out of the shell's history and the process list.
    await cliOk(['keys', 'upstream', '--org', 'acme', '--account', 'eu', '--url', `${b.url}/v1`, '--key', '-'], {
      dataDir: a.dataDir,
      env,
      input: `${acmeEuKey}\n`,
    }),
  );
});

after(async () => {
  await a?.stop();
  await b?.stop();
});

/** How many tasks B recorded for the organization of `key`. */
async function countIn(server: TestServer, key: string): Promise<number> {
  const res = await fetch(`${server.url}/api/tasks`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { counts: { total: number } }).counts.total;
}

async function countsInB(): Promise<[number, number, number]> {
  return [await countIn(b, b.key), await countIn(b, acmeUpKey), await countIn(b, acmeEuKey)];
}

test('acme’s tasks go upstream with acme’s own key, a route naming an account with that one, everyone else with the server-wide key', async () => {
  const listing = await cliOk(['keys', 'upstream', '--org', 'acme'], { dataDir: a.dataDir });
  assert.match(listing, /^default\s+http:\/\/127\.0\.0\.1:\d+\/v1\s+\(key stored sealed/m);
  assert.match(listing, /^eu\s+/m);
  printed.push(listing);

  const start = await countsInB();
  const own = await a.post([imageTask()], { key: acmeKey });
  assert.equal(own.status, 200, own.text);
  assert.deepEqual(await countsInB(), [start[0], start[1] + 1, start[2]], 'recorded under acme-up in B');

  const eu = await a.post([imageTask({ model: 'civitai:4384@128713' })], { key: acmeKey });
  assert.equal(eu.status, 200, eu.text);
  assert.deepEqual(await countsInB(), [start[0], start[1] + 1, start[2] + 1], 'the route named account eu');

  const serverWide = await a.post([imageTask({ model: 'acme:1@1' })], { key: acmeKey });
  assert.equal(serverWide.status, 200, serverWide.text);
  const others = await a.post([imageTask()]);
  assert.equal(others.status, 200, others.text);
  assert.deepEqual(
    await countsInB(),
    [start[0] + 2, start[1] + 1, start[2] + 1],
    'the route naming `server` and the default organization used the server-wide key',
  );
});

test('a revoked per-organization key: acme’s caller gets providerAuthenticationFailed naming the account, the operator sees why, others go on', async () => {
  await cliOk(['keys', 'revoke', acmeUpKey.slice(0, 11)], { dataDir: b.dataDir });
  const task = imageTask();
  const refused = await a.post([task], { key: acmeKey });
  assert.equal(refused.status, 502, refused.text);
  const error = refused.json.errors![0]!;
  assert.equal(error['code'], 'providerAuthenticationFailed');
  assert.equal(error['taskUUID'], task['taskUUID']);
  assert.match(String(error['message']), /your organization's upstream account 'default' \(HTTP 401\)/);
  // The operator's log names the organization's account, and the exchange is kept with the task.
  assert.match(a.stderr(), /the upstream refused an organization's upstream account/);
  const detail = await fetch(`${a.url}/api/tasks/${String(task['taskUUID'])}`, {
    headers: { authorization: `Bearer ${acmeKey}` },
  });
  const upstream = ((await detail.json()) as { data: { upstream: { httpStatus: number | null }[] }[] }).data[0]!
    .upstream;
  assert.deepEqual(
    upstream.map((x) => x.httpStatus),
    [401],
  );
  // acme's other account, and other organizations, are not affected.
  assert.equal((await a.post([imageTask({ model: 'civitai:4384@128713' })], { key: acmeKey })).status, 200);
  assert.equal((await a.post([imageTask()])).status, 200);
});

test('the organizations’ upstream keys are nowhere in A’s database, logs or answers; the sealed form is', async () => {
  const stored = await databaseText(a.dataDir);
  assert.match(stored, /v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/, 'the sealed keys are stored');
  for (const key of [acmeUpKey, acmeEuKey]) {
    for (const [where, text] of [
      ['the database', stored],
      ['stdout', a.stdout()],
      ['stderr', a.stderr()],
      ['the CLI', printed.join('\n')],
    ] as const) {
      assert.ok(!text.includes(key), `${where} holds an organization's upstream key`);
      assert.ok(!text.includes(Buffer.from(key).toString('base64')), `${where} holds it in base64`);
    }
  }
});

test('keys upstream refuses what it cannot store, saying why', async () => {
  const noKey = await runCli(['keys', 'upstream', '--org', 'acme', '--url', `${b.url}/v1`, '--key', 'k'], {
    dataDir: a.dataDir,
  });
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /Set RUNTRAIL_ACCOUNTS_KEY/);
  const credentialsInUrl = await runCli(
    ['keys', 'upstream', '--org', 'acme', '--url', 'https://user:secret@up.example/v1', '--key', 'k'],
    { dataDir: a.dataDir, env: { RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY } },
  );
  assert.equal(credentialsInUrl.code, 1);
  assert.match(credentialsInUrl.stderr, /must not hold credentials/);
});

test('without the accounts key (or with another) A says so at start and in /healthz, and acme’s tasks fail with providerUnavailable', async () => {
  for (const accountsKey of [undefined, randomBytes(32).toString('base64')]) {
    await a.stop({ keepData: true });
    a = await startServer({ dataDir: a.dataDir, key: a.key, env: aEnv(accountsKey) });
    if (accountsKey === undefined) {
      assert.match(
        a.stdout(),
        /Warning: 2 organization upstream account\(s\) exist but RUNTRAIL_ACCOUNTS_KEY is not set/,
      );
      const health = (await (await fetch(`${a.url}/healthz`)).json()) as Record<string, unknown>;
      assert.equal(health['status'], 'degraded');
      assert.match(String(health['upstreamAccounts']), /RUNTRAIL_ACCOUNTS_KEY is not set/);
    }
    const refused = await a.post([imageTask({ model: 'civitai:4384@128713' })], { key: acmeKey });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.json.errors![0]!['code'], 'providerUnavailable');
    assert.match(String(refused.json.errors![0]!['message']), /upstream account 'eu' cannot be used/);
    assert.equal((await a.post([imageTask()])).status, 200, 'the default organization still runs');
  }
});

guardOpenHandles();
