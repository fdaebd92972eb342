// R4: API keys never appear in the ledger, the logs or any response. A server logging at `trace`
// (and the upstream server it forwards to) is driven over every surface with several keys —
// good, revoked, never issued, and keys put in wrong places — then every file of both data
// folders (database, -wal, -shm, media; while running and after shutdown), every database row,
// the captured stdout and stderr, every response and WebSocket frame, every webhook and upload
// request, and every CLI output and export file are searched for each key in its plain, hex,
// UTF-16 and base64 forms. Allowed: the first-start key printed once on stdout, `keys create`
// output, and the echo of an invalid taskUUID or unknown path back to the request that sent it.

import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil, startReceiver, type Receiver } from './helpers/async.js';
import { cliOk } from './helpers/cli.js';
import { filesUnder } from './helpers/files.js';
import {
  TEST_BACKEND,
  databaseText,
  imageTask,
  newApiKey,
  startServer,
  uuid,
  type TestServer,
} from './helpers/server.js';
import { RawClient } from './helpers/ws-client.js';
import { createOrgKey } from './helpers/org-key.js';
import { rawHttp } from './helpers/raw-wire.js';
import { guardOpenHandles } from './helpers/open-handles.js';

/** Seals organizations' upstream keys at rest: a secret itself, searched for like the keys. */
const ACCOUNTS_KEY = randomBytes(32).toString('hex');

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

/** Somewhere a key might end up: a name to report and the bytes to search. */
interface Exposure {
  where: string;
  bytes: Buffer;
}

const exposures: Exposure[] = [];
/** Replies that may echo one key back, because the request put it where the protocol echoes the offending value. */
const echoes = new Map<string, string>();
const expose = (where: string, content: string | Buffer) =>
  exposures.push({ where, bytes: Buffer.isBuffer(content) ? content : Buffer.from(content) });

let upstream: TestServer;
let server: TestServer;
let receiver: Receiver;
const exportDir = mkdtempSync(join(tmpdir(), 'runtrail-secrets-export-'));

/** Every key in play, by name. */
const keys: Record<string, string> = {};
/** What stdout showed of the first-start key: the line announcing it, then the key. */
let firstKeyLines = 0;
const recordedTasks: { org: string; key: string; taskUUID: string }[] = [];

before(async () => {
  // The first request fails once (a retry), and every one to /fails fails (a delivery given up, logged).
  receiver = await startReceiver((n, req) => (n === 0 || req.url.endsWith('/fails') ? 500 : 200));
  upstream = await startServer({ env: { RUNTRAIL_LOG_LEVEL: 'trace' } });
  keys['upstream'] = upstream.key;
  keys['accounts key'] = ACCOUNTS_KEY;
  keys['organization upstream account'] = await createOrgKey(upstream, 'acme-upstream');
  server = await startServer({
    env: {
      // No RUNTRAIL_API_KEY: the server makes organization `default` a key and prints it once.
      RUNTRAIL_API_KEY: '',
      RUNTRAIL_LOG_LEVEL: 'trace',
      RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1',
      RUNTRAIL_WEBHOOK_MAX_ATTEMPTS: '2',
      RUNTRAIL_WEBHOOK_BACKOFF_MS: '20',
      RUNTRAIL_WEBHOOK_BACKOFF_MAX_MS: '50',
      RUNTRAIL_UPSTREAM_URL: `${upstream.url}/v1`,
      RUNTRAIL_UPSTREAM_API_KEY: upstream.key,
      RUNTRAIL_ROUTES: JSON.stringify([{ model: 'upstream:1@1', engine: 'upstream' }, { engine: 'builtin' }]),
      RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY,
    },
  });
  const shown = /It is shown only once:\n(\S+)\n/.exec(server.stdout());
  assert.ok(shown, `the first-start key on stdout: ${server.stdout()}`);
  keys['first'] = shown[1]!;
  firstKeyLines = server.stdout().split(keys['first']).length - 1;
  const created = async (org: string) => {
    const out = await cliOk(['keys', 'create', '--org', org], { dataDir: server.dataDir });
    return { id: /Created key (\S+)/.exec(out)![1]!, key: out.trim().split('\n').pop()! };
  };
  keys['acme'] = (await created('acme')).key;
  keys['acme2'] = (await created('acme')).key;
  const revoked = await created('gone');
  keys['revoked'] = revoked.key;
  await cliOk(['keys', 'revoke', revoked.id], { dataDir: server.dataDir });
  keys['never issued'] = 'rt_' + newApiKey().slice('rt_test_'.length);
  keys['test-style'] = newApiKey();

  await exerciseRest();
  await exerciseWrongPlaces();
  await exerciseRefusedRequests();
  await exerciseWebSocket();
  await exerciseAsync();
  await exerciseReads();
  await exerciseCli();
  await exerciseUpstreamAccount();

  // The data folders while the servers run (SQLite's -wal and -shm exist only then), then after.
  snapshotFolders('while running');
  for (const s of [server, upstream])
    expose(`database rows of ${s === server ? 'the server' : 'the upstream'}`, (await databaseText(s.dataDir)) ?? '');
  await server.stop({ keepData: true });
  await upstream.stop({ keepData: true });
  snapshotFolders('after shutdown');
  expose('server stderr', server.stderr());
  expose('server stdout without the first-start key', server.stdout().split(keys['first']).join('<first key>'));
  expose('upstream stderr', upstream.stderr());
  expose('upstream stdout', upstream.stdout());
  for (const r of receiver.received)
    expose(`webhook ${r.method} ${r.url}`, Buffer.concat([Buffer.from(JSON.stringify(r.headers)), r.body]));
});

after(async () => {
  await server?.stop();
  await upstream?.stop();
  await receiver?.close();
  rmSync(exportDir, { recursive: true, force: true });
});

function snapshotFolders(when: string): void {
  for (const [name, dir] of [
    ['server', server.dataDir],
    ['upstream', upstream.dataDir],
  ] as const) {
    for (const file of filesUnder(dir))
      expose(`${name} data folder ${when}: ${file.slice(dir.length + 1)}`, readFileSync(file));
  }
}

/** One HTTP exchange with the server, its reply (status line, headers, body) kept for the search. */
async function call(
  where: string,
  path: string,
  init: RequestInit = {},
  echo?: string,
): Promise<{ status: number; text: string }> {
  const res = await fetch(server.url + path, init);
  const text = await res.text();
  const headers: string[] = [];
  res.headers.forEach((v, k) => headers.push(`${k}: ${v}`));
  const label = `response to ${where}`;
  expose(label, `${res.status}\n${headers.join('\n')}\n\n${text}`);
  if (echo !== undefined) echoes.set(label, echo);
  return { status: res.status, text };
}

function post(
  where: string,
  body: unknown,
  options: { key?: string; headers?: Record<string, string>; path?: string; echo?: string } = {},
) {
  return call(
    where,
    options.path ?? '/v1',
    {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...options.headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    },
    options.echo,
  );
}

function get(where: string, path: string, key?: string, echo?: string) {
  return call(where, path, key ? { headers: { authorization: `Bearer ${key}` } } : {}, echo);
}

/** Every task type the server runs, once, for the organization of `key`. */
function everyTask(): Record<string, unknown>[] {
  return [
    imageTask({ outputFormat: 'PNG' }),
    imageTask({ outputType: 'base64Data', numberResults: 2 }),
    imageTask({ outputType: 'dataURI', outputFormat: 'WEBP' }),
    { taskType: 'imageUpload', taskUUID: uuid(), image: `data:image/png;base64,${PNG_1X1}` },
    { taskType: 'mediaStorage', taskUUID: uuid(), media: PNG_1X1 },
    { taskType: 'modelSearch', taskUUID: uuid(), search: 'runtrail' },
    { taskType: 'ping', ping: true },
    imageTask({ width: 100 }),
    { taskType: 'textInference', taskUUID: uuid() },
    imageTask({ model: 'upstream:1@1' }),
  ];
}

async function runAll(where: string, key: string, org: string, via: 'header' | 'object'): Promise<void> {
  const tasks = everyTask();
  const body = via === 'header' ? tasks : [{ taskType: 'authentication', apiKey: key }, ...tasks];
  const res = await post(where, body, via === 'header' ? { key } : {});
  assert.equal(res.status, 200, res.text);
  for (const t of tasks)
    if (typeof t['taskUUID'] === 'string') recordedTasks.push({ org, key, taskUUID: t['taskUUID'] });
  // An upscale of an image just produced, by UUID.
  const imageUUID = (JSON.parse(res.text) as { data: Record<string, unknown>[] }).data.find(
    (d) => typeof d['imageURL'] === 'string',
  )!['imageUUID'];
  const upscale = { taskType: 'upscale', taskUUID: uuid(), inputImage: imageUUID, upscaleFactor: 2 };
  assert.equal((await post(`${where}: upscale`, [upscale], { key })).status, 200);
  recordedTasks.push({ org, key, taskUUID: upscale.taskUUID });
}

async function exerciseRest(): Promise<void> {
  await runAll('REST tasks with a Bearer header (first key)', keys['first']!, 'default', 'header');
  await runAll('REST tasks with an authentication object (acme)', keys['acme']!, 'acme', 'object');
  await runAll('REST tasks with the second acme key', keys['acme2']!, 'acme', 'header');
  // Header and authentication object together: the header decides, the object is dropped.
  const both = imageTask();
  await post('header and authentication object', [{ taskType: 'authentication', apiKey: keys['acme2'] }, both], {
    key: keys['first'],
  });
  recordedTasks.push({ org: 'default', key: keys['first']!, taskUUID: both.taskUUID as string });
  // Bad keys, every way they can come.
  for (const name of ['revoked', 'never issued', 'test-style']) {
    const key = keys[name]!;
    assert.equal((await post(`Bearer ${name} key`, [imageTask()], { key })).status, 401);
    assert.equal(
      (
        await post(`authentication object with the ${name} key`, [
          { taskType: 'authentication', apiKey: key },
          imageTask(),
        ])
      ).status,
      401,
    );
    assert.equal((await get(`history API with the ${name} key`, '/api/tasks', key)).status, 401);
  }
  for (const [name, header] of [
    ['Basic', `Basic ${Buffer.from(`${keys['acme']}:`).toString('base64')}`],
    ['Token', `Token ${keys['acme']}`],
    ['two words', `Bearer ${keys['acme']} ${keys['acme2']}`],
    ['no scheme', keys['acme']!],
  ] as const) {
    assert.equal(
      (await post(`Authorization header, ${name}`, [imageTask()], { headers: { authorization: header } })).status,
      401,
    );
  }
}

async function exerciseWrongPlaces(): Promise<void> {
  const key = keys['acme']!;
  const good = keys['first']!;
  // In a task object: the task carries a credential, so it is refused and not recorded.
  const refused = [
    imageTask({ apiKey: key }),
    imageTask({ apiKey: good }),
    imageTask({ authentication: { taskType: 'authentication', apiKey: key } }),
    {
      taskType: 'imageUpload',
      taskUUID: uuid(),
      image: `data:image/png;base64,${PNG_1X1}`,
      settings: [{ apiKey: key }],
    },
    `{"taskType":"imageInference","taskUUID":"${uuid()}","model":"runware:101@1","positivePrompt":"x","width":128,"height":128,"api\\u004bey":"${key}"}`,
  ];
  for (const [i, task] of refused.entries()) {
    const res = await post(
      `a task carrying a key (${i})`,
      `[${typeof task === 'string' ? task : JSON.stringify(task)}]`,
      { key: good },
    );
    assert.equal(res.status, 400, res.text);
    assert.equal(
      (JSON.parse(res.text) as { errors: { code: string }[] }).errors[0]!.code,
      'unsupportedParameter',
      res.text,
    );
    const taskUUID = /"taskUUID":"([^"]+)"/.exec(typeof task === 'string' ? task : JSON.stringify(task))![1]!;
    const details = await post(`getTaskDetails of a refused task (${i})`, [{ taskType: 'getTaskDetails', taskUUID }], {
      key: good,
    });
    assert.equal(details.status, 404, `a task carrying a key was recorded: ${details.text}`);
  }
  // An authentication object that is not first.
  await post(
    'authentication object second',
    [imageTask(), { taskType: 'authentication', apiKey: key, taskUUID: uuid() }],
    { key: good },
  );
  // Other headers and the query string.
  assert.equal((await post('x-api-key header', [imageTask()], { headers: { 'x-api-key': key } })).status, 401);
  assert.equal(
    (await post('apiKey in the query string, no header', [imageTask()], { path: `/v1?apiKey=${key}` })).status,
    401,
  );
  assert.equal(
    (
      await post('apiKey in the query string beside a header', [imageTask()], {
        key: good,
        path: `/v1?apiKey=${key}&key=${key}`,
      })
    ).status,
    200,
  );
  await get('history API with the key in the query', `/api/tasks?apiKey=${key}`);
  await get('history API searching for the key', `/api/tasks?text=${key}`, good);
  await get('explorer with the key in the query', `/explorer/?key=${key}`);
  await get('media with the key in the query', `/media/${key}/${uuid()}.png?apiKey=${key}`);
  await get('metrics with the key in the query', `/metrics?apiKey=${key}`);
  // Where the protocol echoes the offending value back to its sender (and records nothing).
  await post('the key as a taskUUID', [{ taskType: 'getTaskDetails', taskUUID: key }], { key: good, echo: key });
  await post('the key as the taskUUID of a task', [imageTask({ taskUUID: key })], { key: good, echo: key });
  await get('the key as a history API taskUUID', `/api/tasks/${key}`, good, key);
  await get('the key as a path', `/v1/${key}`, good, key);
}

/**
 * Requests Node's HTTP parser refuses before any route runs (a bad chunk, a bad header line,
 * headers over 16 KiB, too many header lines), each carrying a key in its Authorization header
 * and another in an authentication object of its body: the parser's error holds the raw bytes
 * it had read, which must never reach the log.
 */
async function exerciseRefusedRequests(): Promise<void> {
  const port = Number(new URL(server.url).port);
  const body = JSON.stringify([{ taskType: 'authentication', apiKey: keys['acme2'] }, imageTask()]);
  const head = (extra: string) =>
    `POST /v1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${keys['acme']}\r\nContent-Type: application/json\r\n${extra}`;
  const chunk = `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n`;
  const cases: [string, string, number][] = [
    ['a bad chunk size', head('Transfer-Encoding: chunked\r\n\r\n') + chunk + 'zz\r\nnot a chunk\r\n0\r\n\r\n', 400],
    ['a bad header line', head(`Content-Length: ${Buffer.byteLength(body)}\r\nX-Bad\u0001Name: 1\r\n\r\n`) + body, 400],
    [
      'headers over 16 KiB',
      head(`Content-Length: ${Buffer.byteLength(body)}\r\nX-Big: ${'b'.repeat(17 * 1024)}\r\n\r\n`) + body,
      431,
    ],
    [
      '1 001 header lines',
      head(
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          Array.from({ length: 1_000 }, (_, i) => `x-${i}: 1\r\n`).join('') +
          '\r\n',
      ) + body,
      431,
    ],
  ];
  for (const [name, request, status] of cases) {
    const answer = await rawHttp(port, [request]);
    expose(`response to a refused request (${name})`, answer.raw);
    assert.equal(answer.status, status, `${name}: ${answer.raw.slice(0, 200)}`);
  }
}

async function exerciseWebSocket(): Promise<void> {
  const clients: RawClient[] = [];
  try {
    for (const [name, path] of [
      ['acme', '/v1'],
      ['acme2', `/v1?apiKey=${keys['acme']}`],
    ] as const) {
      const c = await RawClient.connect(server.url, path);
      clients.push(c);
      await c.authenticate(keys[name]!);
      const tasks = everyTask();
      c.send(tasks);
      for (const t of tasks)
        if (typeof t['taskUUID'] === 'string') {
          await c.forTask(t['taskUUID'], 30_000);
          recordedTasks.push({ org: 'acme', key: keys[name]!, taskUUID: t['taskUUID'] });
        }
      // A second authentication on the same socket, and a task carrying a key.
      c.send([{ taskType: 'authentication', apiKey: keys['first'] }]);
      const withField = imageTask({ apiKey: keys['first'] });
      c.send([withField]);
      const refused = await c.forTask(withField.taskUUID as string);
      assert.equal(refused.json.errors?.[0]?.['code'], 'unsupportedParameter', refused.text);
      const lookup = recordedTasks[0]!;
      c.send([{ taskType: 'getTaskDetails', taskUUID: lookup.taskUUID }]);
      await c.forTask(lookup.taskUUID);
    }
    for (const name of ['revoked', 'never issued']) {
      const c = await RawClient.connect(server.url, '/v1');
      clients.push(c);
      c.send([{ taskType: 'authentication', apiKey: keys[name] }]);
      // A failed authentication is answered and the socket stays open.
      await c.next();
    }
    // A dropped socket whose task finishes meanwhile, resumed (logged with its session), and a
    // frame that is not UTF-8 (a WebSocket error, logged at debug).
    const dropped = await RawClient.connect(server.url, '/v1');
    const session = await dropped.authenticate(keys['acme']!);
    const slow = imageTask({ positivePrompt: 'a slow one [slow:300]' });
    dropped.send([slow]);
    await new Promise((r) => setTimeout(r, 50));
    dropped.destroy();
    await pollUntil(
      () =>
        post('getResponse of the dropped socket’s task', [{ taskType: 'getResponse', taskUUID: slow.taskUUID }], {
          key: keys['acme'],
        }),
      (r) => r.text.includes('"success"'),
    );
    recordedTasks.push({ org: 'acme', key: keys['acme']!, taskUUID: slow.taskUUID as string });
    const resumed = await RawClient.connect(server.url, '/v1');
    clients.push(resumed);
    assert.equal(await resumed.authenticate(keys['acme']!, session), session);
    await resumed.forTask(slow.taskUUID as string);
    const garbled = await RawClient.connect(server.url, '/v1');
    clients.push(garbled);
    await garbled.authenticate(keys['acme2']!);
    garbled.ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
    await garbled.closed;
    const unauthenticated = await RawClient.connect(server.url, '/v1');
    clients.push(unauthenticated);
    unauthenticated.send([imageTask({ apiKey: keys['acme'] })]);
    await Promise.race([unauthenticated.closed, unauthenticated.next()]);
  } finally {
    for (const c of clients) await c.close();
    clients.forEach((c, i) => expose(`WebSocket frames of socket ${i}`, c.frames.map((f) => f.text).join('\n')));
  }
}

async function exerciseAsync(): Promise<void> {
  const task = imageTask({
    deliveryMethod: 'async',
    numberResults: 2,
    webhookURL: receiver.url,
    uploadEndpoint: `${receiver.url}/upload`,
  });
  assert.equal((await post('async task with webhook and upload', [task], { key: keys['acme'] })).status, 200);
  recordedTasks.push({ org: 'acme', key: keys['acme']!, taskUUID: task.taskUUID as string });
  await pollUntil(
    async () =>
      JSON.parse(
        (
          await post('getResponse while it runs', [{ taskType: 'getResponse', taskUUID: task.taskUUID }], {
            key: keys['acme'],
          })
        ).text,
      ) as { data: { status?: string }[] },
    (reply) => !reply.data.some((item) => item.status === 'processing'),
  );
  // Two results, each to the webhook and the upload endpoint; the first request fails once and is retried.
  await receiver.waitFor(5, 20_000);
  const givenUp = imageTask({ webhookURL: `${receiver.url}/fails` });
  assert.equal((await post('sync task whose webhook always fails', [givenUp], { key: keys['first'] })).status, 200);
  recordedTasks.push({ org: 'default', key: keys['first']!, taskUUID: givenUp.taskUUID as string });
  await pollUntil(
    async () => server.stderr(),
    (log) => log.includes('delivery failed for good'),
  );
}

async function exerciseReads(): Promise<void> {
  for (const t of recordedTasks) {
    await post(`getTaskDetails of ${t.taskUUID}`, [{ taskType: 'getTaskDetails', taskUUID: t.taskUUID }], {
      key: t.key,
    });
    await post(`getResponse of ${t.taskUUID}`, [{ taskType: 'getResponse', taskUUID: t.taskUUID }], { key: t.key });
    await get(`history of ${t.taskUUID}`, `/api/tasks/${t.taskUUID}`, t.key);
    await get(`deliveries of ${t.taskUUID}`, `/api/tasks/${t.taskUUID}/deliveries`, t.key);
  }
  for (const key of [keys['first']!, keys['acme']!]) {
    const list = await get('history list', '/api/tasks?limit=500', key);
    for (const url of new Set(list.text.match(/http:\/\/127\.0\.0\.1:\d+\/media\/[^"]+/g) ?? []))
      await get(`media ${url}`, url.slice(server.url.length));
    await get('spend', '/api/spend', key);
    await get('history filtered', '/api/tasks?status=error&text=a', key);
  }
  for (const path of ['/explorer/', '/explorer/explorer.js', '/explorer/explorer.css', '/healthz', '/metrics'])
    await get(`GET ${path}`, path);
}

async function exerciseCli(): Promise<void> {
  const dataDir = server.dataDir;
  for (const org of ['default', 'acme']) {
    const file = join(exportDir, `${org}.ndjson`);
    await cliOk(['tasks', 'export', '--org', org, '--ndjson', file, '--with-media'], { dataDir });
    expose(`export of ${org}`, readFileSync(file));
    expose(
      `tasks list --json of ${org}`,
      await cliOk(['tasks', 'list', '--org', org, '--json', '--limit', '1000'], { dataDir }),
    );
    expose(`tasks list of ${org}`, await cliOk(['tasks', 'list', '--org', org], { dataDir }));
  }
  for (const t of recordedTasks.slice(0, 12)) {
    expose(
      `tasks show ${t.taskUUID}`,
      await cliOk(['tasks', 'show', t.taskUUID, '--org', t.org, '--raw', 'both'], { dataDir }),
    );
    expose(`tasks deliveries ${t.taskUUID}`, await cliOk(['tasks', 'deliveries', t.taskUUID, '--json'], { dataDir }));
  }
  expose('keys list', await cliOk(['keys', 'list', '--json'], { dataDir }));
}

/** acme's own upstream account: stored by the CLI, used by acme's forwarded tasks, listed, then refused upstream. */
async function exerciseUpstreamAccount(): Promise<void> {
  const dataDir = server.dataDir;
  const env = { RUNTRAIL_ACCOUNTS_KEY: ACCOUNTS_KEY };
  const accountKey = keys['organization upstream account']!;
  expose(
    'keys upstream (set)',
    await cliOk(['keys', 'upstream', '--org', 'acme', '--url', `${upstream.url}/v1`, '--key', '-'], {
      dataDir,
      env,
      input: accountKey,
    }),
  );
  expose('keys upstream (show)', await cliOk(['keys', 'upstream', '--org', 'acme'], { dataDir, env }));
  const task = () => imageTask({ model: 'upstream:1@1' });
  const bearer = { authorization: `Bearer ${keys['acme']!}`, 'content-type': 'application/json' };
  const ran = await call('acme task via its own account', '/v1', {
    method: 'POST',
    headers: bearer,
    body: JSON.stringify([task()]),
  });
  assert.equal(ran.status, 200, ran.text);
  await cliOk(['keys', 'revoke', accountKey.slice(0, 11)], { dataDir: upstream.dataDir });
  const refused = await call('acme task with its revoked account', '/v1', {
    method: 'POST',
    headers: bearer,
    body: JSON.stringify([task()]),
  });
  assert.equal(refused.status, 502, refused.text);
  expose('keys list with accounts', await cliOk(['keys', 'list'], { dataDir }));
}

/** The forms a key could be stored or shown in: as is, hex, UTF-16, and inside base64 at any alignment. */
function keyForms(key: string): { form: string; bytes: Buffer }[] {
  const plain = Buffer.from(key);
  const forms = [
    { form: 'plain', bytes: plain },
    { form: 'hex', bytes: Buffer.from(plain.toString('hex')) },
    { form: 'HEX', bytes: Buffer.from(plain.toString('hex').toUpperCase()) },
    { form: 'UTF-16', bytes: Buffer.from(key, 'utf16le') },
    // A Buffer logged as JSON: its bytes as a decimal list ([114,116,95,…]).
    { form: 'decimal bytes', bytes: Buffer.from(Array.from(plain).join(',')) },
  ];
  // The random part decoded, as a careless store of "the key's bytes" would hold it.
  const secret = Buffer.from(key.replace(/^rt_(test_)?/, ''), 'base64url');
  if (secret.length >= 16) forms.push({ form: 'secret bytes', bytes: secret });
  for (const encoding of ['base64', 'base64url'] as const) {
    for (let offset = 0; offset < 3; offset++) {
      // The characters that encode only the key's bytes, whatever precedes or follows them.
      const encoded = Buffer.concat([Buffer.alloc(offset), plain]).toString(encoding);
      forms.push({
        form: `${encoding}@${offset}`,
        bytes: Buffer.from(encoded.slice(Math.ceil((offset * 4) / 3) + 1, -4)),
      });
    }
  }
  return forms;
}

function hits(among: readonly Exposure[]): string[] {
  const found: string[] = [];
  for (const e of among) {
    for (const [name, key] of Object.entries(keys)) {
      for (const { form, bytes } of keyForms(key)) {
        if (e.bytes.includes(bytes) && !(form === 'plain' && echoes.get(e.where) === key))
          found.push(`${e.where}: the ${name} key (${form})`);
      }
    }
  }
  return found;
}

const where = (pattern: RegExp) => exposures.filter((e) => pattern.test(e.where));

test('every surface was exercised, and the search finds a key in each form (so the searches below can fail)', () => {
  assert.ok(Object.keys(keys).length >= 7);
  assert.ok(recordedTasks.length >= 40, `${recordedTasks.length} tasks`);
  if (TEST_BACKEND === 'sqlite')
    assert.ok(
      where(/data folder while running: runtrail\.db-wal$/).length === 2,
      'the SQLite log was searched while it existed',
    );
  assert.ok(where(/data folder .*media\//).length >= 10, 'media files were searched');
  for (const line of [
    'Server listening',
    'WebSocket session resumed',
    'WebSocket error',
    'delivery failed for good',
    'shutting down',
    'HTTP request refused by the parser',
  ]) {
    assert.ok(server.stderr().includes(line), `the log has '${line}': ${server.stderr().slice(0, 2000)}`);
  }
  assert.ok(receiver.received.length >= 5, 'webhook and upload requests arrived');
  assert.equal(firstKeyLines, 1, 'the first-start key is printed exactly once');
  const key = keys['acme']!;
  const planted = [
    `{"apiKey":"${key}"}`,
    Buffer.from(key).toString('hex'),
    Buffer.from(`Basic ${key}:`).toString('base64'),
    Buffer.from(`xy${key}`).toString('base64url'),
    Buffer.from(key).toString('hex').toUpperCase(),
  ].map((text, i) => ({ where: `planted ${i}`, bytes: Buffer.from(text) }));
  planted.push({ where: 'planted utf-16', bytes: Buffer.from(`"${key}"`, 'utf16le') });
  planted.push({
    where: 'planted decimal bytes',
    bytes: Buffer.from(JSON.stringify({ rawPacket: Array.from(Buffer.from(`Authorization: Bearer ${key}\r\n`)) })),
  });
  planted.push({
    where: 'planted secret bytes',
    bytes: Buffer.concat([Buffer.from([1, 2]), Buffer.from(key.replace(/^rt_/, ''), 'base64url')]),
  });
  for (const p of planted) assert.ok(hits([p]).length > 0, `${p.where} is found`);
});

test('the data folders hold no key: every file, database logs and media included, while running and after shutdown', () => {
  assert.deepEqual(hits(where(/data folder/)), []);
});

test('the database rows hold no key (unpacked SQLite rows, or the PostgreSQL schema)', () => {
  assert.deepEqual(hits(where(/^database rows/)), []);
});

test('the logs hold no key (trace level; stdout shows only the first-start key, once)', () => {
  assert.deepEqual(hits(where(/stderr|stdout/)), []);
});

test('no response or WebSocket frame holds a key, but for an offending value echoed to its sender', () => {
  assert.deepEqual(hits(where(/^(response|WebSocket)/)), []);
  assert.ok(echoes.size > 0 && [...echoes.keys()].every((label) => where(/^response/).some((e) => e.where === label)));
});

test('no webhook or upload request holds a key', () => {
  assert.deepEqual(hits(where(/^webhook/)), []);
});

test('no CLI output or export file holds a key (keys create aside)', () => {
  assert.deepEqual(hits(where(/^(export|tasks|keys list)/)), []);
});

guardOpenHandles();
