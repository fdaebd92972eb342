// Archived outputs of forwarded tasks (docs/engines.md), end to end: runtrail (a real server
// process) forwards to the misbehaving Runware-compatible test upstream (test/servers/
// runware-upstream.ts) and, in the chained case, to a second runtrail. The caller's answer keeps
// the upstream's URLs byte for byte and does not wait for the archive; each output is then fetched
// into runtrail's media store, hashed and recorded; outputs that cannot be fetched, are huge,
// carry the wrong content type or point at private addresses are recorded as failed with the
// reason; the copy is served after the upstream deleted its file, listed by the history API, the
// CLI and export --with-media, and goes with its task. Runs on PostgreSQL too
// (test/postgres-e2e.test.ts).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startServer, storedMediaNames, uuid, TEST_BACKEND, type TestServer } from './helpers/server.js';
import { decodeVideo } from './helpers/media-probe.js';
import { runCli } from './helpers/cli.js';
import { createOrgKey } from './helpers/org-key.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { startRunwareUpstream, type RunwareTestUpstream } from './servers/runware-upstream.js';

interface ArchivedOutput {
  itemIndex: number;
  field: string;
  form: string;
  upstreamURL: string | null;
  state: 'pending' | 'archived' | 'failed' | 'skipped';
  mediaUUID: string | null;
  attempts: number;
  error: string | null;
  archivedURL: string | null;
  contentType: string | null;
  bytes: number | null;
  sha256: string | null;
}

interface TaskDetail {
  status: string;
  archivedOutputs: ArchivedOutput[];
  media: { imageUUID: string }[];
}

let upstream: RunwareTestUpstream;
let a: TestServer;

const ARCHIVE_ENV = {
  RUNTRAIL_UPSTREAM_POLL_MS: '50',
  RUNTRAIL_UPSTREAM_RETRY_BACKOFF_MS: '10',
  RUNTRAIL_ARCHIVE_TIMEOUT_MS: '800',
  RUNTRAIL_ARCHIVE_ATTEMPTS: '3',
  RUNTRAIL_ARCHIVE_BACKOFF_MS: '20',
  RUNTRAIL_ARCHIVE_MAX_BYTES: String(1024 * 1024),
};

before(async () => {
  upstream = await startRunwareUpstream();
  upstream.slowMs = 2500;
  a = await startServer({
    env: {
      ...ARCHIVE_ENV,
      RUNTRAIL_UPSTREAM_URL: upstream.url,
      RUNTRAIL_UPSTREAM_API_KEY: 'up_key_' + uuid(),
      // The webhook receiver of the splicing test lives on the test upstream's host.
      RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1',
    },
  });
});

after(async () => {
  await a?.stop();
  await upstream?.close();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function detail(server: TestServer, taskUUID: string, key = server.key): Promise<TaskDetail> {
  const res = await fetch(`${server.url}/api/tasks/${taskUUID}`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { data: TaskDetail[] }).data[0]!;
}

/** The task once none of its outputs is pending any more (and at least `count` are recorded). */
async function settled(server: TestServer, taskUUID: string, count = 1, key = server.key): Promise<TaskDetail> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const d = await detail(server, taskUUID, key);
    const outputs = d.archivedOutputs;
    if (d.status !== 'processing' && outputs.length >= count && outputs.every((o) => o.state !== 'pending')) return d;
    if (Date.now() > deadline) assert.fail(`outputs still pending: ${JSON.stringify(d.archivedOutputs)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function task(prompt: string, extra: Record<string, unknown> = {}) {
  return {
    taskType: 'imageInference',
    taskUUID: uuid(),
    model: 'runware:101@1',
    positivePrompt: prompt,
    width: 512,
    height: 512,
    ...extra,
  };
}

async function fetchBytes(url: string): Promise<{ status: number; type: string | null; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}

test('a forwarded output is archived after the answer: the caller keeps the upstream URL, runtrail serves its own copy after the upstream deleted the file', async () => {
  const t = task('ok');
  const reply = await a.post([t]);
  assert.equal(reply.status, 200, reply.text);
  const item = reply.json.data![0]!;
  const upstreamUrl = String(item['imageURL']);
  assert.ok(upstreamUrl.startsWith(upstream.url.replace('/v1', '/files/')), 'the caller gets the upstream URL');

  const d = await settled(a, t.taskUUID);
  assert.equal(d.archivedOutputs.length, 1);
  const out = d.archivedOutputs[0]!;
  assert.equal(out.state, 'archived', JSON.stringify(out));
  assert.equal(out.itemIndex, 0);
  assert.equal(out.field, 'imageURL');
  assert.equal(out.upstreamURL, upstreamUrl);
  assert.equal(out.contentType, 'image/png');
  assert.equal(out.bytes, upstream.png.length);
  assert.equal(out.sha256, sha256(upstream.png));
  assert.ok(out.archivedURL?.startsWith(`${a.url}/media/`), String(out.archivedURL));

  // The recorded answer is still what the caller got: the upstream's URL, byte for byte.
  const recalled = await a.post([{ taskType: 'getTaskDetails', taskUUID: t.taskUUID }]);
  assert.ok(recalled.text.includes(JSON.stringify(upstreamUrl)));

  upstream.deleteFile(upstreamUrl);
  assert.equal((await fetchBytes(upstreamUrl)).status, 404, 'the upstream forgot the file');
  const copy = await fetchBytes(out.archivedURL!);
  assert.equal(copy.status, 200);
  assert.equal(copy.type, 'image/png');
  assert.ok(copy.body.equals(upstream.png), 'the archived copy is the very bytes the upstream served');
});

test('archiving never delays the answer: a slow output is still pending when the caller has its result', async () => {
  const t = task('slow');
  const started = Date.now();
  const reply = await a.post([t]);
  const tookMs = Date.now() - started;
  assert.equal(reply.status, 200, reply.text);
  assert.ok(tookMs < upstream.slowMs, `the answer came in ${tookMs} ms, before the ${upstream.slowMs} ms file`);
  const early = await detail(a, t.taskUUID);
  assert.equal(early.archivedOutputs[0]?.state, 'pending', 'queued durably with the task, fetched afterwards');
  // Each attempt runs into the 800 ms deadline; three attempts, then failed with the reason.
  const d = await settled(a, t.taskUUID);
  const out = d.archivedOutputs[0]!;
  assert.equal(out.state, 'failed');
  assert.equal(out.attempts, 3);
  assert.match(out.error ?? '', /within 800 ms/);
});

test('outputs that cannot be kept are recorded as failed with the reason, and the caller’s answer is untouched', async () => {
  const cases: [string, RegExp][] = [
    ['missing', /HTTP 404/],
    ['html', /no image, sound or video format.*text\/html/],
    ['mislabelled', /served as image\/jpeg but its bytes are image\/png/],
    ['audio-as-image', /should be an image but is audio\/wav/],
    ['huge', /larger than the 1048576 bytes/],
    ['declared-huge', /10737418240 bytes, over the 1048576/],
  ];
  const tasks = cases.map(([prompt]) => task(prompt));
  const replies = await Promise.all(tasks.map((t) => a.post([t])));
  for (const [i, r] of replies.entries()) assert.equal(r.status, 200, `${cases[i]![0]}: ${r.text}`);
  for (const [i, t] of tasks.entries()) {
    const [prompt, reason] = cases[i]!;
    const out = (await settled(a, t.taskUUID)).archivedOutputs[0]!;
    assert.equal(out.state, 'failed', `${prompt}: ${JSON.stringify(out)}`);
    assert.match(out.error ?? '', reason, prompt);
    assert.equal(out.archivedURL, null);
    // Permanent failures are not retried: one attempt each.
    assert.equal(out.attempts, 1, prompt);
    assert.equal(String(replies[i]!.json.data![0]!['imageURL']), out.upstreamURL, 'the answer kept the upstream URL');
  }
});

test('outputs at private and link-local addresses are refused by the outbound guard, never fetched', async () => {
  const t = task('private');
  assert.equal((await a.post([t])).status, 200);
  const outs = (await settled(a, t.taskUUID, 2)).archivedOutputs;
  assert.deepEqual(outs.map((o) => o.field).sort(), ['imageURL', 'maskImageURL']);
  for (const o of outs) {
    assert.equal(o.state, 'failed');
    assert.match(o.error ?? '', /refused: .*(10\.255\.255\.1|169\.254\.169\.254).*private, loopback or link-local/);
    assert.equal(o.attempts, 1);
  }
});

test('a flaky file is retried with backoff and archived on the third attempt', async () => {
  const t = task('flaky');
  await a.post([t]);
  const out = (await settled(a, t.taskUUID)).archivedOutputs[0]!;
  assert.equal(out.state, 'archived', JSON.stringify(out));
  assert.equal(out.attempts, 3);
  assert.equal(out.sha256, sha256(upstream.png));
});

test('base64 and data URI outputs are archived from the answer itself; several results each get theirs', async () => {
  const b64 = task('ok', { outputType: 'base64Data', numberResults: 2 });
  const uri = task('ok', { outputType: 'dataURI' });
  const svg = task('svg');
  for (const t of [b64, uri, svg]) assert.equal((await a.post([t])).status, 200);
  const b = (await settled(a, b64.taskUUID, 2)).archivedOutputs;
  assert.deepEqual(
    b.map((o) => [o.itemIndex, o.field, o.form, o.state, o.upstreamURL]),
    [
      [0, 'imageBase64Data', 'base64', 'archived', null],
      [1, 'imageBase64Data', 'base64', 'archived', null],
    ],
  );
  const u = (await settled(a, uri.taskUUID)).archivedOutputs[0]!;
  assert.equal(u.form, 'dataURI');
  assert.equal(u.sha256, sha256(upstream.png));
  assert.ok((await fetchBytes(u.archivedURL!)).body.equals(upstream.png));
  const s = (await settled(a, svg.taskUUID)).archivedOutputs[0]!;
  assert.equal(s.state, 'archived');
  assert.equal(s.contentType, 'image/svg+xml');
});

test('async tasks archive each result as it arrives, before the task has ended', async () => {
  upstream.pollsPerResult = 12;
  try {
    const t = task('ok', { deliveryMethod: 'async', numberResults: 3 });
    const ack = await a.post([t]);
    assert.equal(ack.status, 200, ack.text);
    const deadline = Date.now() + 15_000;
    let early: TaskDetail;
    for (;;) {
      early = await detail(a, t.taskUUID);
      if (early.archivedOutputs.some((o) => o.state === 'archived')) break;
      assert.ok(Date.now() < deadline, 'the first result was archived');
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(early.status, 'processing', 'archived while later results were still running upstream');
    assert.ok(early.archivedOutputs.length < 3);
    const done = await settled(a, t.taskUUID, 3);
    assert.deepEqual(
      done.archivedOutputs.map((o) => [o.itemIndex, o.state]),
      [
        [0, 'archived'],
        [1, 'archived'],
        [2, 'archived'],
      ],
    );
  } finally {
    upstream.pollsPerResult = 1;
  }
});

test('mask, audio and video outputs are archived as their kind: each copy is the upstream’s bytes, served with its type', async () => {
  const mask = {
    taskType: 'imageMasking',
    taskUUID: uuid(),
    model: 'runware:35@1',
    inputImage: `data:image/png;base64,${upstream.png.toString('base64')}`,
  };
  const audio = {
    taskType: 'audioInference',
    taskUUID: uuid(),
    model: 'elevenlabs:1@1',
    positivePrompt: 'rain on a tin roof',
    duration: 10,
  };
  const video = {
    taskType: 'videoInference',
    taskUUID: uuid(),
    model: 'klingai:5@3',
    positivePrompt: 'waves breaking on rocks',
    duration: 5,
    deliveryMethod: 'async',
  };
  for (const t of [mask, audio, video]) {
    const r = await a.post([t]);
    assert.equal(r.status, 200, `${t.taskType}: ${r.text}`);
  }
  const expected: [typeof mask | typeof audio | typeof video, string, string, Buffer][] = [
    [mask, 'maskImageURL', 'image/png', upstream.mask],
    [audio, 'audioURL', 'audio/wav', upstream.wav],
    [video, 'videoURL', 'video/mp4', upstream.mp4],
  ];
  for (const [t, field, type, bytes] of expected) {
    const d = await settled(a, t.taskUUID);
    const out = d.archivedOutputs[0]!;
    assert.equal(d.archivedOutputs.length, 1, JSON.stringify(d.archivedOutputs));
    assert.equal(out.state, 'archived', `${t.taskType}: ${JSON.stringify(out)}`);
    assert.equal(out.field, field);
    assert.equal(out.contentType, type);
    assert.equal(out.bytes, bytes.length);
    assert.equal(out.sha256, sha256(bytes));
    upstream.deleteFile(out.upstreamURL!);
    const copy = await fetchBytes(out.archivedURL!);
    assert.equal(copy.status, 200, t.taskType);
    assert.equal(copy.type, type);
    assert.ok(copy.body.equals(bytes), `${t.taskType}: the copy is the upstream’s bytes`);
  }
  const videoCopy = (await settled(a, video.taskUUID)).archivedOutputs[0]!.archivedURL!;
  const clip = await decodeVideo((await fetchBytes(videoCopy)).body, 'mp4');
  assert.equal(clip.width, 64);
  assert.ok(clip.frames >= 4, `the archived clip plays: ${clip.frames} frames`);
});

test('the history API never lists an output archived without its copy: archives are read before media, while copies land', async () => {
  const t = task('ok', { numberResults: 8 });
  assert.equal((await a.post([t])).status, 200);
  const deadline = Date.now() + 20_000;
  let snapshots = 0;
  for (;;) {
    const d = await detail(a, t.taskUUID);
    snapshots++;
    const mediaUUIDs = new Set(d.media.map((m) => m.imageUUID.toLowerCase()));
    for (const o of d.archivedOutputs.filter((x) => x.state === 'archived')) {
      assert.ok(o.archivedURL, `snapshot ${snapshots}: #${o.itemIndex} is archived but has no URL`);
      assert.ok(mediaUUIDs.has(o.mediaUUID!.toLowerCase()), `snapshot ${snapshots}: its media row is listed`);
    }
    if (d.archivedOutputs.length === 8 && d.archivedOutputs.every((o) => o.state === 'archived')) break;
    assert.ok(Date.now() < deadline, JSON.stringify(d.archivedOutputs.map((o) => o.state)));
  }
  // export --with-media embeds every archived copy, each the bytes its hash names.
  const exported = await runCli(['tasks', 'export', '--ndjson', '-', '--with-media', '--text', t.taskUUID], {
    dataDir: a.dataDir,
  });
  assert.equal(exported.code, 0, exported.stderr);
  const line = JSON.parse(exported.stdout.trim().split('\n').pop()!) as {
    media: { mediaUUID: string; data?: string }[];
    archivedOutputs: { state: string; sha256: string; mediaUUID: string }[];
  };
  assert.equal(line.archivedOutputs.length, 8);
  for (const o of line.archivedOutputs) {
    const file = line.media.find((m) => m.mediaUUID === o.mediaUUID);
    assert.ok(file?.data, `the copy ${o.mediaUUID} is embedded`);
    assert.equal(sha256(Buffer.from(file.data, 'base64')), o.sha256);
  }
});

test('retention removes archived copies with their task', async () => {
  const server = await startServer({
    env: {
      ...ARCHIVE_ENV,
      RUNTRAIL_RETENTION_SWEEP_SECONDS: '0.2',
      RUNTRAIL_UPSTREAM_URL: upstream.url,
      RUNTRAIL_UPSTREAM_API_KEY: 'k_' + uuid(),
    },
  });
  try {
    const brief = task('ok');
    const kept = task('ok');
    assert.equal((await server.post([brief], { headers: { 'X-Runtrail-Retention': '3s' } })).status, 200);
    assert.equal((await server.post([kept])).status, 200);
    const gone = (await settled(server, brief.taskUUID)).archivedOutputs[0]!;
    const stays = (await settled(server, kept.taskUUID)).archivedOutputs[0]!;
    assert.equal(gone.state, 'archived', JSON.stringify(gone));
    assert.equal((await fetchBytes(gone.archivedURL!)).status, 200);
    const file = gone.archivedURL!.split('/').pop()!;
    assert.ok((await storedMediaNames(server.dataDir)).includes(file));
    const deadline = Date.now() + 15_000;
    while (
      (await fetch(`${server.url}/api/tasks/${brief.taskUUID}`, { headers: { authorization: `Bearer ${server.key}` } }))
        .status !== 404
    ) {
      assert.ok(Date.now() < deadline, 'the task was swept');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await fetchBytes(gone.archivedURL!)).status, 404, 'its archived copy is no longer served');
    while ((await storedMediaNames(server.dataDir)).includes(file)) {
      assert.ok(Date.now() < deadline, 'the archived file was removed');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await fetchBytes(stays.archivedURL!)).status, 200, 'the other task’s copy stays');
  } finally {
    await server.stop();
  }
});

test('policy per organization: none keeps nothing, a byte limit skips larger outputs; both are recorded', async () => {
  const noneKey = await createOrgKey(a, 'archive-none');
  const smallKey = await createOrgKey(a, 'archive-small');
  const set = async (org: string, policy: string) => {
    const r = await runCli(['keys', 'archive', '--org', org, '--policy', policy], { dataDir: a.dataDir });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  assert.match(await set('archive-none', 'none'), /archives no outputs/);
  assert.match(await set('archive-small', '100'), /archives outputs up to 100 bytes each/);
  const bad = await runCli(['keys', 'archive', '--org', 'archive-small', '--policy', 'some'], { dataDir: a.dataDir });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--policy must be all, none or a number of bytes/);

  const n = task('ok');
  const s = task('ok');
  assert.equal((await a.post([n], { key: noneKey })).status, 200);
  assert.equal((await a.post([s], { key: smallKey })).status, 200);
  const none = (await settled(a, n.taskUUID, 1, noneKey)).archivedOutputs[0]!;
  assert.equal(none.state, 'skipped');
  assert.match(none.error ?? '', /policy keeps no outputs/);
  const small = (await settled(a, s.taskUUID, 1, smallKey)).archivedOutputs[0]!;
  assert.equal(small.state, 'skipped', JSON.stringify(small));
  assert.match(small.error ?? '', /over the 100 kept/);

  const back = await runCli(['keys', 'archive', '--org', 'archive-small', '--default'], { dataDir: a.dataDir });
  assert.match(back.stdout, /server default/);
});

test('tasks show and export --with-media carry the archived copy; deleting the task removes it', async () => {
  const t = task('ok');
  await a.post([t]);
  const out = (await settled(a, t.taskUUID)).archivedOutputs[0]!;
  const shown = await runCli(['tasks', 'show', t.taskUUID], { dataDir: a.dataDir });
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`archive +#0 imageURL ${out.upstreamURL!.replace(/[.?]/g, '\\$&')} +archived`));
  assert.ok(shown.stdout.includes(`sha256:${out.sha256!}`));

  const exported = await runCli(['tasks', 'export', '--ndjson', '-', '--with-media', '--text', t.taskUUID], {
    dataDir: a.dataDir,
  });
  assert.equal(exported.code, 0, exported.stderr);
  const line = JSON.parse(exported.stdout.trim().split('\n').pop()!) as {
    taskUUID: string;
    media: { mediaUUID: string; data?: string }[];
    archivedOutputs: { state: string; sha256: string; mediaUUID: string; upstreamURL: string }[];
  };
  assert.equal(line.taskUUID, t.taskUUID);
  assert.equal(line.archivedOutputs[0]!.sha256, out.sha256);
  assert.equal(line.archivedOutputs[0]!.upstreamURL, out.upstreamURL);
  const file = line.media.find((m) => m.mediaUUID === line.archivedOutputs[0]!.mediaUUID);
  assert.ok(file?.data, 'the archived file is embedded');
  assert.ok(Buffer.from(file.data, 'base64').equals(upstream.png));

  const deleted = await runCli(['tasks', 'delete', t.taskUUID], { dataDir: a.dataDir });
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.equal((await fetchBytes(out.archivedURL!)).status, 404, 'the archived copy went with its task');
  const res = await fetch(`${a.url}/api/tasks/${t.taskUUID}`, { headers: { authorization: `Bearer ${a.key}` } });
  assert.equal(res.status, 404);
});

test('a task with webhookURL is forwarded as the caller wrote it, minus webhookURL: spliced, not re-serialized', async () => {
  const taskUUID = uuid();
  const hook = upstream.url.replace('/v1', '/hooks');
  const source = `{ "taskType" : "imageInference","webhookURL":"${hook}", "taskUUID":"${taskUUID}",\n  "positivePrompt":"caf\\u00e9","seed":12345678901234567890,"width":512.0,"height":512,"model":"runware:101@1" }`;
  const before = upstream.bodies.length;
  const reply = await a.post(`[${source}]`);
  assert.equal(reply.status, 200, reply.text);
  const sent = upstream.bodies.slice(before).find((b) => b.includes('caf\\u00e9'));
  assert.ok(sent, 'the upstream got the task');
  const upstreamUUID = (JSON.parse(sent) as { taskUUID: string }[])[0]!.taskUUID;
  assert.equal(
    sent,
    `[{ "taskType" : "imageInference", "taskUUID":"${upstreamUUID}",\n  "positivePrompt":"caf\\u00e9","seed":12345678901234567890,"width":512.0,"height":512,"model":"runware:101@1" }]`,
  );
});

test('chained runtrail servers: A archives B’s output and serves it after B has deleted the task and its file', async () => {
  const b = await startServer();
  const chained = await startServer({
    env: { ...ARCHIVE_ENV, RUNTRAIL_UPSTREAM_URL: `${b.url}/v1`, RUNTRAIL_UPSTREAM_API_KEY: b.key },
  });
  try {
    const t = { ...task('a lighthouse at dusk'), width: 128, height: 128 };
    const reply = await chained.post([t]);
    assert.equal(reply.status, 200, reply.text);
    const bUrl = String(reply.json.data![0]!['imageURL']);
    assert.ok(bUrl.startsWith(`${b.url}/media/`), 'the caller gets B’s URL');
    const out = (await settled(chained, t.taskUUID)).archivedOutputs[0]!;
    assert.equal(out.state, 'archived', JSON.stringify(out));
    const original = await fetchBytes(bUrl);
    assert.equal(original.status, 200);
    assert.equal(out.sha256, sha256(original.body));

    // B forgets the task (and its file) under the upstream taskUUID A used.
    const exchange = (
      (await (
        await fetch(`${chained.url}/api/tasks/${t.taskUUID}`, { headers: { authorization: `Bearer ${chained.key}` } })
      ).json()) as { data: { upstream: { upstreamTaskUUID: string }[] }[] }
    ).data[0]!.upstream[0]!;
    const gone = await runCli(['tasks', 'delete', exchange.upstreamTaskUUID], { dataDir: b.dataDir });
    assert.equal(gone.code, 0, gone.stderr);
    assert.equal((await fetchBytes(bUrl)).status, 404, 'B no longer serves it');
    const copy = await fetchBytes(out.archivedURL!);
    assert.equal(copy.status, 200);
    assert.ok(copy.body.equals(original.body));
  } finally {
    await chained.stop();
    await b.stop();
  }
});

test(
  'a crash between the answer and the fetch: the queued output is archived after the restart',
  {
    skip:
      TEST_BACKEND === 'postgres'
        ? 'a dead replica’s lease runs out only after the fetch deadline plus 30 s; SQLite releases it at start'
        : false,
  },
  async () => {
    const server = await startServer({
      env: {
        ...ARCHIVE_ENV,
        RUNTRAIL_ARCHIVE_TIMEOUT_MS: '10000',
        RUNTRAIL_UPSTREAM_URL: upstream.url,
        RUNTRAIL_UPSTREAM_API_KEY: 'k_' + uuid(),
      },
    });
    let restarted: TestServer | undefined;
    try {
      const t = task('slow');
      assert.equal((await server.post([t])).status, 200);
      assert.equal((await detail(server, t.taskUUID)).archivedOutputs[0]?.state, 'pending');
      await server.stop({ keepData: true, signal: 'SIGKILL' });
      restarted = await startServer({
        dataDir: server.dataDir,
        key: server.key,
        env: {
          ...ARCHIVE_ENV,
          RUNTRAIL_ARCHIVE_TIMEOUT_MS: '10000',
          RUNTRAIL_UPSTREAM_URL: upstream.url,
          RUNTRAIL_UPSTREAM_API_KEY: 'k_' + uuid(),
        },
      });
      const out = (await settled(restarted, t.taskUUID)).archivedOutputs[0]!;
      assert.equal(out.state, 'archived', JSON.stringify(out));
      assert.equal(out.sha256, sha256(upstream.png));
    } finally {
      await (restarted ?? server).stop();
    }
  },
);

guardOpenHandles();
