// A gateway without a server-wide upstream (docs/engines.md, "Accounts only"): runtrail started
// with RUNTRAIL_ACCOUNTS_KEY and routes sending tasks to "upstream", but no RUNTRAIL_UPSTREAM_URL,
// forwards each organization's tasks with the account it stored (`runtrail keys upstream`) to the
// repo's test upstreams (REST: test/servers/runware-upstream.ts; WebSocket:
// test/servers/runware-ws-upstream.ts), and answers organizations without one providerUnavailable
// (503, the protocol's envelope) before anything leaves. The start line and /healthz say which mode
// is in effect; routes that cannot be served stop the start with the reason. An organization's
// replaced key is used from the next task on, its old WebSocket closed; an idle account socket is
// closed after RUNTRAIL_UPSTREAM_ACCOUNT_IDLE_MS and opened again by the next task. Runs on
// PostgreSQL too (test/postgres-e2e.test.ts).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { createOrgKey } from './helpers/org-key.js';
import { cliOk, runCli } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { startRunwareUpstream, type RunwareTestUpstream } from './servers/runware-upstream.js';
import { startWsUpstream, type WsUpstreamServer } from './servers/runware-ws-upstream.js';

const ACCOUNTS_KEY = randomBytes(32).toString('hex');
const ROUTES = JSON.stringify([{ model: 'runtrail:*', engine: 'builtin' }, { engine: 'upstream' }]);
/** How long a running server may keep an account it looked up (src/accounts/upstream-accounts.ts), and a margin. */
const CACHE_WAIT_MS = 1200;
const IDLE_MS = 1500;

let rest: RunwareTestUpstream;
let ws: WsUpstreamServer;
let a: TestServer;
let acmeKey: string;
let socketOrgKey: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function accountsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY,
    RUNTRAIL_ROUTES: ROUTES,
    RUNTRAIL_UPSTREAM_RETRY_BACKOFF_MS: '10',
    RUNTRAIL_UPSTREAM_POLL_MS: '30',
    RUNTRAIL_UPSTREAM_ACCOUNT_IDLE_MS: String(IDLE_MS),
    RUNTRAIL_UPSTREAM_WS_PING_MS: '60000',
    // The test upstreams' files are on 127.0.0.1: the archive may fetch them.
    RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1',
    ...extra,
  };
}

async function setAccount(org: string, url: string, key: string): Promise<string> {
  return cliOk(['keys', 'upstream', '--org', org, '--url', url, '--key', '-'], {
    dataDir: a.dataDir,
    env: { RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY },
    input: `${key}\n`,
  });
}

before(async () => {
  rest = await startRunwareUpstream();
  ws = await startWsUpstream();
  a = await startServer({ env: accountsEnv() });
  acmeKey = await createOrgKey(a, 'acme');
  socketOrgKey = await createOrgKey(a, 'sockets');
});

after(async () => {
  await a?.stop();
  await rest?.close();
  await ws?.close();
});

test('the start line and /healthz say the server forwards with organizations’ own accounts only', async () => {
  assert.match(
    a.stdout(),
    /Upstream: organizations' own accounts only \(no RUNTRAIL_UPSTREAM_URL; 0 organization\(s\) hold one\)/,
  );
  const health = await fetch(`${a.url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok', upstream: 'accounts-only' });
});

test('an organization holding an account: its tasks go upstream with its key; one without gets 503 providerUnavailable and nothing leaves', async () => {
  const upKey = 'acme_up_' + uuid();
  assert.match(await setAccount('acme', rest.url, upKey), /sends its tasks upstream to http:\/\/127\.0\.0\.1:\d+\/v1/);

  const before = rest.bodies.length;
  const own = imageTask({ positivePrompt: 'ok' });
  const reply = await a.post([own], { key: acmeKey });
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json.data![0]!['taskUUID'], own['taskUUID']);
  assert.match(
    String(reply.json.data![0]!['imageURL']),
    /^http:\/\/127\.0\.0\.1:\d+\/files\/ok-/,
    'the upstream’s answer',
  );
  assert.equal(rest.bodies.length, before + 1);
  assert.equal(rest.authorizations.at(-1), `Bearer ${upKey}`, 'sent with acme’s own key');

  // Organization `default` holds no account: refused before any upstream call, in the protocol's envelope.
  const orphan = imageTask();
  const refused = await a.post([orphan]);
  assert.equal(refused.status, 503, refused.text);
  assert.deepEqual(refused.json.data ?? [], []);
  assert.equal(refused.json.errors!.length, 1);
  const error = refused.json.errors![0]!;
  assert.equal(error['code'], 'providerUnavailable');
  assert.equal(error['taskUUID'], orphan['taskUUID']);
  assert.equal(error['taskType'], 'imageInference');
  assert.match(String(error['message']), /your organization has no upstream account 'default'.*runtrail keys upstream/);
  assert.equal(rest.bodies.length, before + 1, 'the upstream received nothing for it');

  // Tasks routed here still run for everyone; a mixed request answers each task on its own.
  const local = imageTask({ model: 'runtrail:1@1', width: 64, height: 64 });
  const another = imageTask();
  const mixed = await a.post([local, another]);
  assert.deepEqual(
    mixed.json.data!.map((d) => d['taskUUID']),
    [local['taskUUID']],
  );
  assert.deepEqual(
    mixed.json.errors!.map((e) => [e['taskUUID'], e['code']]),
    [[another['taskUUID'], 'providerUnavailable']],
  );
  assert.equal(rest.bodies.length, before + 1);
});

test('async tasks of an organization’s account are polled with that account', async () => {
  const t = imageTask({ positivePrompt: 'ok', deliveryMethod: 'async', numberResults: 2 });
  const ack = await a.post([t], { key: acmeKey });
  assert.equal(ack.status, 200, ack.text);
  await until('the async task to end', async () => {
    const r = await a.post([{ taskType: 'getResponse', taskUUID: t['taskUUID'] }], { key: acmeKey });
    return (r.json.data ?? []).length === 2 && r.json.data!.every((d) => d['status'] === 'success');
  });
  const upstreamUUID = (
    JSON.parse(rest.bodies.find((b) => b.includes('"async"') && b.includes('numberResults'))!) as {
      taskUUID: string;
    }[]
  )[0]!.taskUUID;
  const polls = rest.bodies.flatMap((b, i) => (b.includes('getResponse') && b.includes(upstreamUUID) ? [i] : []));
  assert.ok(polls.length >= 2, 'polled');
  assert.ok(
    polls.every((i) => rest.authorizations[i] === rest.authorizations.at(polls[0]!)),
    'every poll with the same key',
  );
  assert.match(String(rest.authorizations[polls[0]!]), /^Bearer acme_up_/);
});

test('a replaced key is used from the next task on (REST)', async () => {
  const newKey = 'acme_new_' + uuid();
  await setAccount('acme', rest.url, newKey);
  await sleep(CACHE_WAIT_MS);
  const reply = await a.post([imageTask({ positivePrompt: 'ok' })], { key: acmeKey });
  assert.equal(reply.status, 200, reply.text);
  assert.equal(rest.authorizations.at(-1), `Bearer ${newKey}`);
});

test('a WebSocket account (keys upstream --url ws://…): one socket; a replaced key retires it for a new one; an idle one is closed and opened again', async () => {
  const oldKey = ws.key;
  const newKey = 'ws_new_' + uuid();
  ws.acceptedKeys.push(newKey);
  assert.match(await setAccount('sockets', ws.url, oldKey), /sends its tasks upstream to ws:\/\/127\.0\.0\.1:\d+\/v1/);
  const listing = await cliOk(['keys', 'upstream', '--org', 'sockets'], { dataDir: a.dataDir });
  assert.match(listing, /^default\s+ws:\/\/127\.0\.0\.1:\d+\/v1\s+\(key stored sealed/m);

  const first = await Promise.all(
    [1, 2, 3].map(() => a.post([imageTask({ positivePrompt: 'plain' })], { key: socketOrgKey })),
  );
  for (const r of first) assert.equal(r.status, 200, r.text);
  assert.equal(ws.connections, 1, 'the three tasks shared one socket');
  assert.deepEqual(
    ws.authentications.map((x) => x.keyIndex),
    [0],
  );

  await setAccount('sockets', ws.url, newKey);
  await sleep(CACHE_WAIT_MS);
  const second = await a.post([imageTask({ positivePrompt: 'plain' })], { key: socketOrgKey });
  assert.equal(second.status, 200, second.text);
  assert.equal(ws.connections, 2, 'a new socket for the new key');
  assert.deepEqual(
    ws.authentications.map((x) => x.keyIndex),
    [0, 1],
    'authenticated with the new key',
  );
  await until('the old socket to be closed', () => ws.openSockets() === 1);

  // Idle past RUNTRAIL_UPSTREAM_ACCOUNT_IDLE_MS: the socket is closed (the server sends no ping in between).
  await until('the idle socket to be closed', () => ws.openSockets() === 0, IDLE_MS + 5000);
  const third = await a.post([imageTask({ positivePrompt: 'plain' })], { key: socketOrgKey });
  assert.equal(third.status, 200, third.text);
  assert.equal(ws.connections, 3, 'the next task opened it again');
  assert.equal(ws.authentications.at(-1)!.keyIndex, 1);
});

test('a key replaced while a task is in flight: the task finishes on the old socket, which closes after it; new tasks use the new key', async () => {
  const thirdKey = 'ws_third_' + uuid();
  ws.acceptedKeys.push(thirdKey);
  // The socket the last task opened stops being read: the next task sent on it waits for an answer.
  ws.reading(false);
  const held = a.post([imageTask({ positivePrompt: 'plain' })], { key: socketOrgKey });
  await sleep(300);
  await setAccount('sockets', ws.url, thirdKey);
  await sleep(CACHE_WAIT_MS);
  const connections = ws.connections;
  const fresh = await a.post([imageTask({ positivePrompt: 'plain' })], { key: socketOrgKey });
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal(ws.connections, connections + 1);
  assert.equal(ws.authentications.at(-1)!.keyIndex, 2, 'the new socket authenticated with the third key');
  assert.equal(ws.openSockets(), 2, 'the old socket stays open while its task is in flight');
  ws.reading(true);
  const answered = await held;
  assert.equal(answered.status, 200, answered.text);
  await until('the retired socket to be closed', () => ws.openSockets() === 1);
});

test('keys upstream refuses other schemes', async () => {
  const ftp = await runCli(['keys', 'upstream', '--org', 'acme', '--url', 'ftp://up.example/v1', '--key', 'k'], {
    dataDir: a.dataDir,
    env: { RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY },
  });
  assert.equal(ftp.code, 1);
  assert.match(ftp.stderr, /--url must be an http\(s\):\/\/ or ws\(s\):\/\/ URL/);
});

test('routes the server cannot serve stop the start, saying why', async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { RUNTRAIL_ROUTES: ROUTES },
      /RUNTRAIL_ROUTES sends tasks to "upstream", but there is no upstream to send them to: set RUNTRAIL_UPSTREAM_URL and RUNTRAIL_UPSTREAM_API_KEY .*or RUNTRAIL_ACCOUNTS_KEY/,
    ],
    [
      {
        RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY,
        RUNTRAIL_ROUTES: JSON.stringify([{ engine: 'upstream', upstreams: ['default', 'backup'] }]),
      },
      /lists "upstreams" \(default, backup\), but RUNTRAIL_UPSTREAM_URL is not set/,
    ],
    [
      {
        RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY,
        RUNTRAIL_ROUTES: JSON.stringify([{ engine: 'upstream', account: 'server' }]),
      },
      /names the account "server" \(the server-wide upstream\), but RUNTRAIL_UPSTREAM_URL is not set/,
    ],
    [
      {
        RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY,
        RUNTRAIL_UPSTREAM_FALLBACKS: JSON.stringify([{ name: 'b', url: 'http://127.0.0.1:9/v1', apiKey: 'k' }]),
      },
      /RUNTRAIL_UPSTREAM_FALLBACKS is set, but RUNTRAIL_UPSTREAM_URL is not/,
    ],
  ];
  for (const [env, reason] of cases) {
    await assert.rejects(startServer({ env }), (err: Error) => {
      assert.match(err.message, /server exited with 1/);
      assert.match(err.message, reason);
      return true;
    });
  }
});

test('a server-wide upstream: /healthz says so; without any upstream route there is no upstream field', async () => {
  const wide = await startServer({ env: { RUNTRAIL_UPSTREAM_URL: rest.url, RUNTRAIL_UPSTREAM_API_KEY: 'k' } });
  const local = await startServer({ env: { RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY } });
  try {
    assert.deepEqual(await (await fetch(`${wide.url}/healthz`)).json(), { status: 'ok', upstream: 'server-wide' });
    assert.match(wide.stdout(), /Upstream: 127\.0\.0\.1:\d+; organizations holding their own account/);
    assert.equal(await (await fetch(`${local.url}/healthz`)).text(), '{"status":"ok"}');
    assert.doesNotMatch(local.stdout(), /Upstream:/);
  } finally {
    await wide.stop();
    await local.stop();
  }
});

guardOpenHandles();
