// The engine's worker-thread pool and the contract around it: threads start on first use and all
// end on close, a full queue refuses at once, a crashed thread fails only its operation and is
// replaced, an operation that cannot run answers engineUnavailable naming the engine; the model
// map; and, end to end, /healthz reporting the engine and a stopped server leaving no thread.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import sharp from 'sharp';
import { CpuPool } from '../src/engines/builtin/cpu-pool.js';
import { BuiltinEngine } from '../src/engines/builtin/builtin-engine.js';
import { BUILTIN_MODELS, type BuiltinModel } from '../src/engines/builtin/catalogue.js';
import { EngineRouter, type OperationName } from '../src/engines/engine.js';
import { run as renderInline } from '../src/engines/builtin/ops/procedural-render.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { imageTask, startServer, uuid } from './helpers/server.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

/**
 * The process's threads, leaving out the image library's own workers: libvips names them
 * "libvips worker", serves every thread of the process from them and keeps them after a pool
 * thread ends, and how many it starts depends on how renders overlapped (CI once saw two more
 * in the measured cycle than in the warm-up). Node's worker threads are named "node".
 */
const threadsOf = (pid: number | 'self') =>
  readdirSync(`/proc/${pid}/task`).filter((tid) => {
    try {
      return !readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').startsWith('libvips');
    } catch {
      return false; // the thread ended between the listing and the read
    }
  }).length;
/** Waits until the process's thread count has not changed for half a second (threads told to end leave a moment later). */
async function steadyThreadCount(): Promise<void> {
  let last = threadsOf('self');
  for (let still = 0, i = 0; still < 5 && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = threadsOf('self');
    still = now === last ? still + 1 : 0;
    last = now;
  }
}
const render = (size: number, seed = 7n) => ({
  width: size,
  height: size,
  seed,
  model: 'runware:101@1',
  prompt: 'a pool test',
  format: 'png' as const,
  quality: 90,
});

test('threads start on the first operation, give the same bytes as the main thread, and all end on close', async () => {
  // The main thread's own sharp work starts libuv's threads first, so they are not counted below.
  const inline = await renderInline(render(128));
  // And one cycle of a pool like the one measured, so that any thread the process starts once for
  // its first workers is there before the count (threadsOf leaves the image library's out).
  const warm = new CpuPool({ threads: 2, maxQueue: 4 });
  await Promise.all([warm.run('procedural-render', render(128)), warm.run('procedural-render', render(128, 8n))]);
  await warm.close();
  await steadyThreadCount();
  const before = threadsOf('self');
  const pool = new CpuPool({ threads: 2, maxQueue: 4 });
  assert.equal(pool.stats().threads.started, 0, 'no thread before any work');
  assert.equal(threadsOf('self'), before);
  const [a, b] = await Promise.all([
    pool.run('procedural-render', render(128)),
    pool.run('procedural-render', render(128, 8n)),
  ]);
  assert.ok(pool.stats().threads.started >= 1 && pool.stats().threads.started <= 2);
  assert.ok(threadsOf('self') > before, 'pool threads are OS threads of this process');
  assert.ok(Buffer.from(a.image).equals(Buffer.from(inline.image)), 'same input, same bytes, in a thread or not');
  assert.ok(!Buffer.from(a.image).equals(Buffer.from(b.image)));
  await pool.close();
  assert.equal(pool.stats().threads.started, 0);
  // A thread that was told to end leaves the process a moment later; give it that moment.
  for (let i = 0; i < 50 && threadsOf('self') > before; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(threadsOf('self'), before, 'every pool thread ended');
  // Decoded only now: sharp's own threads in this process would count among those above.
  assert.deepEqual([(await sharp(Buffer.from(a.image)).metadata()).width, a.width, a.format], [128, 128, 'png']);
  await assert.rejects(
    pool.run('procedural-render', render(64)),
    (e: unknown) => e instanceof ProtocolError && e.code === 'serviceUnavailable',
  );
});

test('a full queue refuses at once with queueCapacityExceeded (429) and the queued work still completes', async () => {
  const pool = new CpuPool({ threads: 1, maxQueue: 1 });
  try {
    const running = [pool.run('procedural-render', render(1024)), pool.run('procedural-render', render(1024, 9n))];
    await assert.rejects(
      pool.run('procedural-render', render(64)),
      (e: unknown) => e instanceof ProtocolError && e.code === 'queueCapacityExceeded' && e.status === 429,
    );
    assert.equal(pool.stats().pending, 2);
    const done = await Promise.all(running);
    assert.deepEqual(
      done.map((d) => d.width),
      [1024, 1024],
    );
    assert.equal((await pool.run('procedural-render', render(64))).width, 64, 'room again once the queue drained');
  } finally {
    await pool.close();
  }
});

test('a crashed thread fails only its own operation and is replaced', async () => {
  const pool = new CpuPool({
    threads: 1,
    maxQueue: 4,
    workerFile: new URL('./fixtures/crashing-worker.js', import.meta.url),
  });
  try {
    await pool.run('procedural-render', render(64));
    const crash = pool.run('crash-thread' as OperationName, undefined as never);
    await assert.rejects(crash, /thread crashed on purpose/);
    assert.equal(
      (await pool.run('procedural-render', render(64))).width,
      64,
      'the next operation runs on a new thread',
    );
  } finally {
    await pool.close();
  }
});

test('an operation that cannot run answers engineUnavailable naming the engine, and health says why', async () => {
  const broken: BuiltinModel = {
    ...BUILTIN_MODELS[0]!,
    air: 'runtrail:broken@1',
    operations: ['no-such-operation' as OperationName],
    standsIn: [],
  };
  const engine = new BuiltinEngine({ catalogue: [...BUILTIN_MODELS, broken] });
  try {
    const health = await engine.health();
    assert.equal(health.ready, false);
    const op = health.operations.find((o) => o.name === 'no-such-operation');
    assert.equal(op?.ready, false);
    assert.match(op?.reason ?? '', /did not load/);
    assert.ok(health.operations.filter((o) => o.name !== 'no-such-operation').every((o) => o.ready));
    await assert.rejects(
      engine.run('no-such-operation' as OperationName, undefined as never),
      (e: unknown) =>
        e instanceof ProtocolError &&
        e.code === 'engineUnavailable' &&
        e.status === 503 &&
        /builtin engine/.test(e.message),
    );
    assert.equal(health.pool?.threads.started, 0, 'checking health starts no thread');
  } finally {
    await engine.close();
  }
});

test('model map: own AIRs run as themselves, the operator rules come before the engines stand-ins, null refuses', () => {
  const plain = new EngineRouter([new BuiltinEngine()]);
  assert.equal(plain.resolve('imageInference', 'runware:101@1')?.model.air, 'runtrail:procedural@plasma-1');
  assert.equal(
    plain.resolve('imageInference', 'runtrail:1@1')?.model.air,
    'runtrail:procedural@plasma-1',
    "the renderer's earlier name",
  );
  assert.equal(plain.resolve('upscale', null)?.model.air, 'runtrail:lanczos@3', "no model: the task type's default");
  assert.equal(plain.resolve('upscale', 'runtrail:procedural@plasma-1'), undefined, 'a model of another task type');
  const mapped = new EngineRouter(
    [new BuiltinEngine()],
    [],
    [],
    [
      { taskType: 'imageInference', model: 'runware:101@1', runs: null },
      { model: 'civitai:*', runs: 'runtrail:procedural@plasma-1' },
    ],
  );
  assert.equal(mapped.resolve('imageInference', 'runware:101@1'), undefined);
  assert.throws(
    () => mapped.require('imageInference', 'runware:101@1'),
    (e: unknown) =>
      e instanceof ProtocolError && e.code === 'unsupportedModel' && /runtrail:procedural@plasma-1/.test(e.message),
  );
  assert.equal(mapped.resolve('imageInference', 'civitai:4384@128713')?.model.air, 'runtrail:procedural@plasma-1');
  assert.equal(
    mapped.resolve('upscale', 'civitai:1@1'),
    undefined,
    'a rule naming a model of another task type runs nothing',
  );
});

test('end to end: /healthz is ok while every operation is ready, /healthz/engines reports each; threads start with the first task; SIGTERM leaves none behind', async () => {
  const server = await startServer({
    env: { RUNTRAIL_ENGINE_THREADS: '2', RUNTRAIL_MODEL_MAP: '[{"model":"runware:100@1","runs":null}]' },
  });
  try {
    const pid = server.process.pid!;
    assert.equal(await (await fetch(`${server.url}/healthz`)).text(), '{"status":"ok"}', 'every operation ready');
    const health = async () =>
      (await (await fetch(`${server.url}/healthz/engines`)).json()) as {
        engines: {
          name: string;
          ready: boolean;
          operations: { name: string; ready: boolean }[];
          pool: { threads: { started: number; max: number } };
        }[];
      };
    const idle = await health();
    assert.deepEqual(
      idle.engines.map((e) => [e.name, e.ready]),
      [['builtin', true]],
    );
    // Every operation a built-in model names is reported, ready (all are installed by npm ci).
    const declared = [...new Set(BUILTIN_MODELS.flatMap((m) => m.operations))].sort();
    assert.deepEqual(
      idle.engines[0]!.operations.map((o) => [o.name, o.ready]).sort(),
      declared.map((name) => [name, true]),
    );
    assert.ok(
      declared.includes('lanczos-upscale') &&
        declared.includes('procedural-render') &&
        declared.includes('remove-background') &&
        declared.includes('vectorize'),
    );
    assert.deepEqual(idle.engines[0]!.pool.threads, { started: 0, max: 2 });
    const threadsIdle = threadsOf(pid);

    const reply = await server.post([imageTask({ numberResults: 2, width: 256, height: 256 })]);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.data!.length, 2);
    const busy = await health();
    assert.ok(busy.engines[0]!.pool.threads.started >= 1);
    assert.ok(threadsOf(pid) > threadsIdle, 'the pool threads belong to the server process');

    const refused = await server.post([imageTask({ taskUUID: uuid(), model: 'runware:100@1' })]);
    assert.equal(refused.json.errors?.[0]?.['code'], 'unsupportedModel', refused.text);
    assert.equal(refused.json.errors?.[0]?.['parameter'], 'model');
    assert.ok(!/\bat .*\.js:\d+/.test(refused.text), 'no stack trace');
  } finally {
    const exit = new Promise<number | null>((r) => server.process.once('exit', (code) => r(code)));
    const stopped = Date.now();
    await server.stop();
    assert.equal(await exit, 0, 'a clean exit: no thread kept the process alive');
    assert.ok(Date.now() - stopped < 8_000);
  }
  assert.deepEqual(readdirSync('/proc').includes(String(server.process.pid)), false);
});

test('end to end: results past the engine queue bound answer queueCapacityExceeded (429) and the rest are delivered', async () => {
  const server = await startServer({ env: { RUNTRAIL_ENGINE_THREADS: '1', RUNTRAIL_ENGINE_QUEUE: '0' } });
  try {
    const reply = await server.post([imageTask({ numberResults: 3, width: 512, height: 512 })]);
    assert.equal(reply.json.data?.length, 1, reply.text);
    assert.deepEqual(
      reply.json.errors?.map((e) => e['code']),
      ['queueCapacityExceeded', 'queueCapacityExceeded'],
    );
    const alone = await server.post([imageTask({ taskUUID: uuid(), numberResults: 1 })]);
    assert.equal(alone.status, 200, 'room again once the first task is done');
    const refusedOnly = await Promise.all([
      server.post([imageTask({ taskUUID: uuid(), width: 2048, height: 2048 })]),
      server.post([imageTask({ taskUUID: uuid(), width: 2048, height: 2048 })]),
    ]);
    const statuses = refusedOnly.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 429], 'a task whose only result was refused answers HTTP 429');
  } finally {
    await server.stop();
  }
});

test("an operation's progress reaches the caller from its thread", async () => {
  const pool = new CpuPool({ threads: 1, maxQueue: 1 });
  try {
    let reported!: (percent: number) => void;
    const progress = new Promise<number>((r) => (reported = r));
    const [image, percent] = await Promise.all([
      pool.run('procedural-render', render(256), { onProgress: (p) => reported(p) }),
      progress,
    ]);
    assert.equal(percent, 50);
    assert.equal(image.width, 256);
  } finally {
    await pool.close();
  }
});

test('end to end: a WebSocket waiting for its running task is not idle, now that the event loop stays free', async () => {
  const server = await startServer({ env: { RUNTRAIL_WS_IDLE_MS: '500' } });
  const ws = await RawClient.connect(server.url);
  try {
    await ws.authenticate(server.key);
    const task = imageTask({ positivePrompt: 'a long one [slow:1500]' });
    ws.send([task]);
    const frame = await ws.forTask(task['taskUUID'] as string);
    assert.equal(frame.json.data?.[0]?.['taskUUID'], task['taskUUID'], frame.text);
    assert.ok(ws.isOpen, 'the socket stayed open while the server owed it an answer');
    await ws.next(() => false, 1_500).catch(() => undefined);
    assert.ok(!ws.isOpen, 'once answered and quiet, it is closed as idle');
  } finally {
    await ws.close();
    await server.stop();
  }
});

guardOpenHandles();
