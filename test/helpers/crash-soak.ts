// The crash soak of R1 (docs/performance.md), shared by test/crash-inflight.test.ts (short) and
// bench/crash-soak.ts (10 000 tasks): a seeded mix of sync and async tasks in flight over REST and
// pipelined WebSocket connections, SIGKILL of the server at a seeded moment, a restart on the same
// data folder, the rest of the tasks sent to it, and then every task recalled with getTaskDetails.
// Acknowledged tasks must be found (0 lost), give back the request as sent and, for sync tasks, the
// response exactly as the client received it (0 corrupt), and have finished (0 stuck).

import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import { taskEnvelope } from '../../src/protocol/envelope.js';
import { pollUntil, taskStates, type Item, type TaskState } from './async.js';
import { backendEnv, post, startServer, TEST_BACKEND, type Reply, type TestServer } from './server.js';
import { RawClient } from './ws-client.js';

export type Channel = 'rest-sync' | 'rest-async' | 'rest-search' | 'ws-sync' | 'ws-async' | 'ws-search';
export const CHANNELS: readonly Channel[] = [
  'rest-sync',
  'rest-async',
  'rest-search',
  'ws-sync',
  'ws-async',
  'ws-search',
];

export interface CrashSoakOptions {
  tasks: number;
  seed: number;
  /**
   * Senders (default a tenth of `tasks`, at most 1 000): each sends the next REST request or WebSocket message of the plan and
   * waits for its answers, so REST requests and WebSocket messages are in flight together, in plan
   * order, and each WebSocket connection carries several messages at once (pipelined).
   */
  senders?: number;
  /** WebSocket connections the messages are spread over (default 8). */
  wsConnections?: number;
  /** The kill comes when this share of the tasks has been sent: drawn from [from, to] (default 0.2–0.8). */
  killBetween?: [number, number];
  /** How long async work may take to finish after the last send before what is left counts as stuck. */
  settleMs?: number;
  /** Extra server environment (both starts). */
  env?: Record<string, string>;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** Where a task ended, as recalled after the restart. */
export type EndState = 'absent' | 'success' | 'interrupted' | 'failed' | 'processing';

export interface ChannelFigures {
  sent: number;
  acknowledged: number;
  lost: number;
  corrupt: number;
  stuck: number;
  /** Not acknowledged (in flight at the kill), by where they ended. */
  unacknowledged: Record<EndState, number>;
}

export interface CrashSoakResult {
  seed: number;
  backend: 'sqlite' | 'postgres';
  tasks: number;
  /** The kill came once this share of the tasks had been sent (drawn from the seed)... */
  killFraction: number;
  /** ...and came with this many sent (the request or message that crossed the line included). */
  sentAtKill: number;
  /** Milliseconds from the first send to the kill. */
  killAfterMs: number;
  /** In flight at the kill: REST requests (and their tasks), WebSocket tasks. */
  inFlightAtKill: { restRequests: number; restTasks: number; wsTasks: number };
  /** The ledger as the kill left it, and after the restarted server stopped. */
  ledgerAtKill: LedgerCounts;
  ledgerAtEnd: LedgerCounts;
  /** From starting the server again to its listening (process start and recovery included). */
  restartMs: number;
  /** From the last answer to every async task finished (or the bound). */
  settleMs: number;
  recallMs: number;
  totalMs: number;
  totals: ChannelFigures;
  channels: Record<Channel, ChannelFigures>;
  /** Tasks sent to the restarted server that got no answer (there was no second kill: a defect). */
  unansweredAfterRestart: number;
  /** Frame rules (docs/protocol.md, "What clients rely on in a frame") broken by any WebSocket frame. */
  frameViolations: string[];
  /**
   * Up to 20 examples of each defect, with the reason; `unexpected`: tasks that ended with an error
   * other than taskInterrupted although their prompt has no [fail].
   */
  defects: { lost: string[]; corrupt: string[]; stuck: string[]; unanswered: string[]; unexpected: string[] };
}

interface SoakTask {
  taskUUID: string;
  channel: Channel;
  async: boolean;
  /** The task object's text exactly as sent. */
  source: string;
  /** Results requested (placeholders while processing). */
  results: number;
  /** Sent to the restarted server (answers from the killed one may never come). */
  sentAfterRestart?: boolean;
  /** What the client received for it: the task's envelope (its items, spliced as received). */
  ack?: string;
  /** Why there is no ack (connection error, no items in the reply). */
  noAck?: string;
}

/** One REST request or one WebSocket message. */
interface Unit {
  transport: 'rest' | 'ws';
  tasks: SoakTask[];
}

// ---- the seeded plan ----------------------------------------------------------------------

/** xorshift128+ on two 32-bit halves, seeded through splitmix32: the same plan for the same seed. */
function generator(seed: number): () => number {
  const split = (x: number) => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return [x, (z ^ (z >>> 16)) >>> 0] as const;
  };
  const first = split(seed);
  let a = first[1];
  let b = split(first[0])[1];
  return () => {
    let x = a;
    const y = b;
    a = y;
    x ^= x << 11;
    x ^= x >>> 8;
    b = (x ^ y ^ (y >>> 19)) >>> 0;
    return b / 4294967296;
  };
}

function uuidFrom(next: () => number): string {
  const hex = (n: number) =>
    Math.floor(next() * 16 ** n)
      .toString(16)
      .padStart(n, '0');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(next() * 4)]}${hex(3)}-${hex(6)}${hex(6)}`;
}

function planTask(next: () => number, i: number, transport: 'rest' | 'ws'): SoakTask {
  const taskUUID = uuidFrom(next);
  const pick = next();
  let task: Record<string, unknown>;
  let kind: 'sync' | 'async' | 'search';
  let results = 1;
  if (pick < 0.18) {
    kind = 'search';
    task = { taskType: 'modelSearch', taskUUID, search: 'plasma', limit: 1 + Math.floor(next() * 5) };
  } else {
    kind = pick < (transport === 'rest' ? 0.45 : 0.3) ? 'async' : 'sync';
    results = next() < 0.3 ? 2 : 1;
    const switches =
      kind === 'async'
        ? next() < 0.6
          ? ` [slow:${20 + Math.floor(next() * 130)}]`
          : ''
        : next() < 0.04
          ? ' [fail]'
          : next() < 0.25
            ? ` [slow:${100 + Math.floor(next() * 1400)}]`
            : '';
    task = {
      taskType: 'imageInference',
      taskUUID,
      model: 'runtrail:procedural@plasma-1',
      positivePrompt: `crash soak ${i}${switches}`,
      width: 64,
      height: 64,
      seed: Math.floor(next() * 2 ** 31),
      ...(results > 1 ? { numberResults: results } : {}),
      ...(next() < 0.1 ? { outputType: 'base64Data', outputFormat: 'WEBP' } : {}),
      ...(next() < 0.5 ? { includeCost: true } : {}),
      ...(kind === 'async' ? { deliveryMethod: 'async' } : {}),
    };
  }
  const channel = `${transport}-${kind}` as Channel;
  // Some sources pretty-printed: the ledger must give back these very bytes.
  const source = next() < 0.2 ? JSON.stringify(task, null, 1) : JSON.stringify(task);
  return { taskUUID, channel, async: kind === 'async', source, results };
}

/** REST requests of 1–8 tasks (half of them single) and WebSocket messages of 1–4, interleaved. */
function plan(total: number, next: () => number): { units: Unit[]; all: SoakTask[] } {
  const units: Unit[] = [];
  const all: SoakTask[] = [];
  while (all.length < total) {
    const transport = next() < 0.5 ? 'rest' : 'ws';
    const size = Math.min(
      total - all.length,
      transport === 'rest' ? (next() < 0.5 ? 1 : 2 + Math.floor(next() * 7)) : 1 + Math.floor(next() * 4),
    );
    const tasks = Array.from({ length: size }, () => planTask(next, all.length, transport)).map(
      (t) => (all.push(t), t),
    );
    units.push({ transport, tasks });
  }
  return { units, all };
}

// ---- reading answers ------------------------------------------------------------------------

const sameUuid = (a: unknown, b: string) => typeof a === 'string' && a.toLowerCase() === b.toLowerCase();

/**
 * This task's envelope as the client received it in a reply holding several tasks. Items were
 * serialized once by JSON.stringify, so stringify(parse(item)) is the item's text; the substring
 * check makes sure these are the very bytes received.
 */
function envelopeIn(
  text: string,
  json: { data?: Item[]; errors?: Item[] },
  task: SoakTask,
): { ack?: string; noAck?: string } {
  const texts = (list: Item[] | undefined) =>
    (list ?? []).filter((i) => sameUuid(i['taskUUID'], task.taskUUID)).map((i) => JSON.stringify(i));
  const data = texts(json.data);
  const errors = texts(json.errors);
  if (data.length + errors.length === 0) return { noAck: `no item in the answer: ${text.slice(0, 200)}` };
  const missing = [...data, ...errors].find((item) => !text.includes(item));
  if (missing !== undefined) return { noAck: `item not found verbatim in the answer: ${missing.slice(0, 200)}` };
  // serviceUnavailable: refused before anything was recorded, so not an acknowledgment.
  if (errors.some((e) => e.includes('"code":"serviceUnavailable"'))) return { noAck: 'serviceUnavailable' };
  return { ack: taskEnvelope({ data, errors }) };
}

// ---- the run --------------------------------------------------------------------------------

export async function runCrashSoak(options: CrashSoakOptions): Promise<CrashSoakResult> {
  const log = options.log ?? (() => undefined);
  const next = generator(options.seed);
  const [from, to] = options.killBetween ?? [0.2, 0.8];
  const killFraction = from + (to - from) * next();
  const killAtTask = Math.max(1, Math.round(options.tasks * killFraction));
  const { units, all } = plan(options.tasks, next);
  // Every claim of an async job is a lease; on PostgreSQL the restarted server may only take over
  // the dead one's running jobs once it expires, so keep it short.
  const env = {
    RUNTRAIL_WORKERS: '16',
    ...(TEST_BACKEND === 'postgres' ? { RUNTRAIL_JOB_LEASE_MS: '3000', RUNTRAIL_JOB_POLL_MS: '200' } : {}),
    ...options.env,
  };

  const first = await startServer({ env });
  let server: TestServer = first;
  let generation = 0;
  let second: TestServer | undefined;
  const started = performance.now();
  let sent = 0;
  let killed = false;
  let killAfterMs = 0;
  let sentAtKill = 0;
  let restartMs = 0;
  const inFlight = { restRequests: 0, restTasks: 0, wsTasks: 0 };
  let inFlightAtKill = { ...inFlight };
  let ledgerAtKill: LedgerCounts | undefined;
  let gate: Promise<void> = Promise.resolve();

  const kill = () => {
    killed = true;
    killAfterMs = Math.round(performance.now() - started);
    sentAtKill = sent;
    inFlightAtKill = { ...inFlight };
    log(
      `SIGKILL after ${sent} of ${options.tasks} tasks sent (${(killFraction * 100).toFixed(1)} %), ${killAfterMs} ms in; in flight: ${inFlight.restRequests} REST requests (${inFlight.restTasks} tasks), ${inFlight.wsTasks} WebSocket tasks`,
    );
    // stop() sends the signal synchronously, before anything else is written.
    gate = first.stop({ signal: 'SIGKILL', keepData: true }).then(async () => {
      ledgerAtKill = await ledgerCounts(first.dataDir);
      const restartedAt = performance.now();
      second = await startServer({ dataDir: first.dataDir, key: first.key, env });
      restartMs = Math.round(performance.now() - restartedAt);
      server = second;
      generation++;
      log(`restarted in ${restartMs} ms at ${second.url}`);
    });
  };
  const markSent = (unit: Unit, toGeneration: number) => {
    for (const t of unit.tasks) t.sentAfterRestart = toGeneration > 0;
    sent += unit.tasks.length;
    if (!killed && sent >= killAtTask) kill();
  };

  const sendRest = async (unit: Unit) => {
    const to = generation;
    inFlight.restRequests++;
    inFlight.restTasks += unit.tasks.length;
    const reply = post(server.url, `[${unit.tasks.map((t) => t.source).join(',')}]`, first.key).catch(
      (err: unknown) => err as Error,
    );
    markSent(unit, to);
    const answer: Reply | Error = await reply;
    inFlight.restRequests--;
    inFlight.restTasks -= unit.tasks.length;
    for (const task of unit.tasks) {
      Object.assign(
        task,
        answer instanceof Error
          ? { noAck: `${answer.message} (${(answer.cause as Error | undefined)?.message ?? ''})` }
          : envelopeIn(answer.text, answer.json, task),
      );
    }
  };

  const frameViolations: string[] = [];
  /** A WebSocket connection to the current server, opened again after the restart; answers found by taskUUID. */
  const wsConnection = () => {
    const pending = new Map<string, { task: SoakTask; done: () => void; on: RawClient }>();
    let opened: Promise<{ client: RawClient; generation: number }> | undefined;
    const settle = (key: string, got: { ack?: string; noAck?: string }) => {
      const entry = pending.get(key);
      if (!entry) return;
      pending.delete(key);
      inFlight.wsTasks--;
      Object.assign(entry.task, got);
      entry.done();
    };
    const open = async () => {
      const at = generation;
      const client = await RawClient.connect(server.url);
      await client.authenticate(first.key);
      client.ws.on('message', (data) => {
        const text = data.toString();
        let json: { data?: Item[]; errors?: Item[] };
        try {
          json = JSON.parse(text) as typeof json;
        } catch {
          return;
        }
        const uuid = [...(json.data ?? []), ...(json.errors ?? [])]
          .map((i) => i['taskUUID'])
          .find((u) => typeof u === 'string');
        // The frame is the task's envelope exactly as recorded (docs/websocket.md).
        if (typeof uuid === 'string')
          settle(
            uuid.toLowerCase(),
            text.includes('"code":"serviceUnavailable"') ? { noAck: 'serviceUnavailable' } : { ack: text },
          );
      });
      void client.closed.then(({ code }) => {
        frameViolations.push(...client.violations);
        for (const [key, entry] of [...pending])
          if (entry.on === client) settle(key, { noAck: `WebSocket closed (${code}) before the answer` });
      });
      return { client, generation: at };
    };
    return {
      async send(unit: Unit) {
        let current = await (opened ??= open());
        if (current.generation !== generation || !current.client.isOpen) {
          // The server was restarted: whoever notices first opens the new connection.
          if ((await opened) === current) {
            current.client.destroy();
            opened = open();
          }
          current = await opened;
        }
        const answered = unit.tasks.map(
          (task) =>
            new Promise<void>((done) => pending.set(task.taskUUID.toLowerCase(), { task, done, on: current.client })),
        );
        inFlight.wsTasks += unit.tasks.length;
        current.client.send(`[${unit.tasks.map((t) => t.source).join(',')}]`);
        markSent(unit, current.generation);
        await Promise.all(answered);
      },
      async close() {
        if (opened) await (await opened).client.close();
      },
    };
  };

  const connections = Array.from({ length: options.wsConnections ?? 8 }, wsConnection);
  let wsMessages = 0;
  const sender = async () => {
    for (let unit = units.shift(); unit !== undefined; unit = units.shift()) {
      await gate;
      if (unit.transport === 'rest') await sendRest(unit);
      else await connections[wsMessages++ % connections.length]!.send(unit);
    }
  };

  let result: CrashSoakResult;
  try {
    // More senders than a tenth of the tasks would send everything at once, before any kill point.
    await Promise.all(
      Array.from({ length: options.senders ?? Math.max(1, Math.min(1000, Math.round(options.tasks / 10))) }, sender),
    );
    await gate;
    await Promise.all(connections.map((c) => c.close()));
    const lastAnswer = performance.now();
    log(`all ${sent} tasks sent and answered or cut off in ${Math.round(lastAnswer - started)} ms`);
    const current = { post: (body: unknown) => post(server.url, body, first.key) };

    // Async tasks (acknowledged or not: an unanswered request may have queued them) finish, or the
    // bound passes. On PostgreSQL, sync tasks the killed server left processing are ended by the
    // new one once the dead one's heartbeat runs out (docs/async.md), so they are waited for too.
    const asyncUuids = all.filter((t) => t.async || TEST_BACKEND === 'postgres').map((t) => t.taskUUID);
    const stillProcessing = (m: Map<string, TaskState>) =>
      [...m.values()].filter((s) => s.data.some((i) => i['status'] === 'processing')).length;
    let finalStates = new Map<string, TaskState>();
    try {
      finalStates = await pollUntil(
        async () => {
          const m = await taskStates(current, asyncUuids);
          log(`async tasks still processing: ${stillProcessing(m)}`);
          return m;
        },
        (m) => stillProcessing(m) === 0,
        options.settleMs ?? 120_000,
        1_000,
      );
    } catch {
      finalStates = await taskStates(current, asyncUuids);
    }
    const settled = performance.now();

    // Recall every task, 100 per getTaskDetails request.
    const channels = Object.fromEntries(CHANNELS.map((c) => [c, emptyFigures()])) as Record<Channel, ChannelFigures>;
    const defects: CrashSoakResult['defects'] = { lost: [], corrupt: [], stuck: [], unanswered: [], unexpected: [] };
    const note = (list: string[], line: string): void => {
      if (list.length < 20) list.push(line);
    };
    let unansweredAfterRestart = 0;
    for (let i = 0; i < all.length; i += 100) {
      const batch = all.slice(i, i + 100);
      const details = await current.post(
        `[${batch.map((t) => `{"taskType":"getTaskDetails","taskUUID":"${t.taskUUID}"}`).join(',')}]`,
      );
      for (const task of batch) {
        const figures = channels[task.channel];
        figures.sent++;
        const recalled = recallOf(details, task);
        const end = recalled === undefined ? 'absent' : endState(recalled.response);
        if (task.ack === undefined) {
          figures.unacknowledged[end]++;
          if (task.sentAfterRestart) {
            unansweredAfterRestart++;
            note(
              defects.unanswered,
              `${task.taskUUID} (${task.channel}) sent after the restart: ${task.noAck ?? 'no answer'}`,
            );
          }
          if (recalled !== undefined && !recalled.requestIntact) {
            figures.corrupt++;
            note(
              defects.corrupt,
              `${task.taskUUID} (${task.channel}, unacknowledged): the recalled request differs from the text sent`,
            );
          }
          if (end === 'processing') note(defects.stuck, `${task.taskUUID} (${task.channel}, unacknowledged)`);
          if (end === 'failed' && !task.source.includes('[fail]'))
            note(
              defects.unexpected,
              `${task.taskUUID} (${task.channel}, unacknowledged): ${JSON.stringify(recalled?.response).slice(0, 300)}`,
            );
          continue;
        }
        figures.acknowledged++;
        if (recalled === undefined) {
          figures.lost++;
          note(defects.lost, `${task.taskUUID} (${task.channel}) acknowledged with ${task.ack.slice(0, 120)}`);
          continue;
        }
        const why = corruption(task, recalled, end, finalStates.get(task.taskUUID));
        if (why !== undefined) {
          figures.corrupt++;
          note(defects.corrupt, `${task.taskUUID} (${task.channel}): ${why}`);
        }
        if (end === 'failed' && !task.source.includes('[fail]'))
          note(defects.unexpected, `${task.taskUUID} (${task.channel}): ${recalled.responseText.slice(0, 300)}`);
        if (end === 'processing') {
          figures.stuck++;
          note(defects.stuck, `${task.taskUUID} (${task.channel}): ${recalled.responseText.slice(0, 200)}`);
        }
      }
    }
    // Unacknowledged tasks left processing are stuck too.
    for (const c of CHANNELS) channels[c].stuck += channels[c].unacknowledged.processing;
    const done = performance.now();
    await second?.stop({ keepData: true });
    result = {
      seed: options.seed,
      backend: TEST_BACKEND,
      tasks: options.tasks,
      sentAtKill,
      killFraction: Math.round(killFraction * 1000) / 1000,
      killAfterMs,
      inFlightAtKill,
      ledgerAtKill: ledgerAtKill!,
      ledgerAtEnd: await ledgerCounts(first.dataDir),
      restartMs,
      settleMs: Math.round(settled - lastAnswer),
      recallMs: Math.round(done - settled),
      totalMs: Math.round(done - started),
      totals: sumFigures(Object.values(channels)),
      channels,
      unansweredAfterRestart,
      frameViolations,
      defects,
    };
  } finally {
    if (!killed) await first.stop({ signal: 'SIGKILL', keepData: true });
    await gate.catch(() => undefined);
    await second?.stop({ keepData: true });
    await first.stop();
  }
  return result;
}

// ---- the ledger's own view -------------------------------------------------------------------

export interface LedgerCounts {
  /** Tasks by status (`processing`, `success`, `error`). */
  tasks: Record<string, number>;
  /** Async jobs by state (`queued`, `running`). */
  jobs: Record<string, number>;
  /** Async results recorded one by one (kept across a rerun). */
  items: number;
}

/** Counts read straight from the database of the (stopped) server on `dataDir`. */
async function ledgerCounts(dataDir: string): Promise<LedgerCounts> {
  const queries = {
    tasks: 'SELECT status AS k, count(*) AS n FROM tasks GROUP BY status',
    jobs: 'SELECT state AS k, count(*) AS n FROM jobs GROUP BY state',
    items: "SELECT 'all' AS k, count(*) AS n FROM task_items",
  };
  const run = async (read: (sql: string) => Promise<{ k: string; n: number | string }[]>) => {
    const byKey = async (sql: string) => Object.fromEntries((await read(sql)).map((r) => [r.k, Number(r.n)]));
    return {
      tasks: await byKey(queries.tasks),
      jobs: await byKey(queries.jobs),
      items: (await byKey(queries.items))['all'] ?? 0,
    };
  };
  const url = backendEnv(dataDir)['DATABASE_URL'];
  if (url === undefined) {
    const db = new Database(join(dataDir, 'runtrail.db'), { readonly: true });
    try {
      return await run(async (sql) => db.prepare(sql).all() as { k: string; n: number }[]);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(async (sql) => (await client.query<{ k: string; n: string }>(sql)).rows);
  } finally {
    await client.end();
  }
}

// ---- recall and checks ----------------------------------------------------------------------

interface Recalled {
  /** The request array came back as `[<source as sent>]`. */
  requestIntact: boolean;
  response: { data?: Item[]; errors?: Item[] };
  /** The response text, byte for byte, when the task's ack predicts it; else re-serialized. */
  responseText: string;
  /** The recalled item is exactly `…"request":[source],"response":<ack>}`. */
  matchesAck: boolean;
}

function recallOf(details: Reply, task: SoakTask): Recalled | undefined {
  const item = (details.json.data ?? []).find((d) => sameUuid(d['taskUUID'], task.taskUUID));
  if (item === undefined) return undefined;
  // getTaskDetails splices the stored texts: {"taskType":…,"taskUUID":…,"request":<stored>,"response":<stored>}.
  const head = `{"taskType":"getTaskDetails","taskUUID":"${task.taskUUID}","request":[${task.source}],"response":`;
  const matchesAck = task.ack !== undefined && details.text.includes(`${head}${task.ack}}`);
  const response = (item['response'] ?? {}) as Recalled['response'];
  return {
    requestIntact: details.text.includes(head),
    response,
    responseText: matchesAck ? task.ack! : JSON.stringify(response),
    matchesAck,
  };
}

function endState(response: Recalled['response']): EndState {
  if ((response.data ?? []).some((i) => i['status'] === 'processing')) return 'processing';
  const errors = response.errors ?? [];
  if (errors.length === 0) return 'success';
  return errors.every((e) => e['code'] === 'taskInterrupted') ? 'interrupted' : 'failed';
}

/** Why an acknowledged task's recall is not what the client was told, or undefined. */
function corruption(
  task: SoakTask,
  recalled: Recalled,
  end: EndState,
  polled: TaskState | undefined,
): string | undefined {
  if (!recalled.requestIntact) return 'the recalled request differs from the text sent';
  if (!task.async)
    return recalled.matchesAck
      ? undefined
      : `response differs: sent ${task.ack!.slice(0, 300)}, recalled ${recalled.responseText.slice(0, 300)}`;
  if (end === 'processing') return undefined; // counted as stuck
  // Async: every result recorded (success) or ended by the crash (taskInterrupted), nothing else.
  const data = recalled.response.data ?? [];
  const errors = recalled.response.errors ?? [];
  if (data.some((i) => i['status'] !== 'success'))
    return `a result that is not success: ${recalled.responseText.slice(0, 300)}`;
  if (errors.some((e) => e['code'] !== 'taskInterrupted'))
    return `an error other than taskInterrupted: ${recalled.responseText.slice(0, 300)}`;
  if (data.length > task.results || (errors.length === 0 && data.length !== task.results))
    return `${data.length} results of ${task.results}: ${recalled.responseText.slice(0, 300)}`;
  // The final poll and the record hold the same items.
  if (polled !== undefined) {
    const texts = (items: Item[]) => items.map((i) => JSON.stringify(i)).join('\n');
    if (texts(polled.data) !== texts(data) || texts(polled.errors) !== texts(errors))
      return `getResponse and getTaskDetails differ: ${texts([...polled.data, ...polled.errors]).slice(0, 300)} / ${recalled.responseText.slice(0, 300)}`;
  }
  return undefined;
}

function emptyFigures(): ChannelFigures {
  return {
    sent: 0,
    acknowledged: 0,
    lost: 0,
    corrupt: 0,
    stuck: 0,
    unacknowledged: { absent: 0, success: 0, interrupted: 0, failed: 0, processing: 0 },
  };
}

function sumFigures(list: ChannelFigures[]): ChannelFigures {
  const total = emptyFigures();
  for (const f of list) {
    total.sent += f.sent;
    total.acknowledged += f.acknowledged;
    total.lost += f.lost;
    total.corrupt += f.corrupt;
    total.stuck += f.stuck;
    for (const k of Object.keys(total.unacknowledged) as EndState[]) total.unacknowledged[k] += f.unacknowledged[k];
  }
  return total;
}

/** The figures as a plain-text table, one row per channel and a total. */
export function formatCrashSoak(r: CrashSoakResult): string {
  const counts = (m: Record<string, number>) =>
    Object.entries(m)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ') || 'none';
  const head = [
    'channel',
    'sent',
    'acked',
    'lost',
    'corrupt',
    'stuck',
    'unacked: absent',
    'success',
    'interrupted',
    'failed',
    'processing',
  ];
  const row = (name: string, f: ChannelFigures) =>
    [
      name,
      f.sent,
      f.acknowledged,
      f.lost,
      f.corrupt,
      f.stuck,
      f.unacknowledged.absent,
      f.unacknowledged.success,
      f.unacknowledged.interrupted,
      f.unacknowledged.failed,
      f.unacknowledged.processing,
    ].map(String);
  const rows = [head, ...CHANNELS.map((c) => row(c, r.channels[c])), row('total', r.totals)];
  const widths = head.map((_, i) => Math.max(...rows.map((x) => x[i]!.length)));
  const lines = rows.map((x) =>
    x.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return [
    `seed ${r.seed}, ${r.backend}, ${r.tasks} tasks; SIGKILL after ${r.sentAtKill} sent (${(r.killFraction * 100).toFixed(1)} %), ${r.killAfterMs} ms in;` +
      ` in flight then: ${r.inFlightAtKill.restRequests} REST requests (${r.inFlightAtKill.restTasks} tasks), ${r.inFlightAtKill.wsTasks} WebSocket tasks`,
    `ledger at the kill: tasks ${counts(r.ledgerAtKill.tasks)}; jobs ${counts(r.ledgerAtKill.jobs)}; async results recorded ${r.ledgerAtKill.items}`,
    `ledger at the end: tasks ${counts(r.ledgerAtEnd.tasks)}; jobs ${counts(r.ledgerAtEnd.jobs)}`,
    `restart ${r.restartMs} ms, async settled ${r.settleMs} ms after the last answer, recall ${r.recallMs} ms, total ${r.totalMs} ms`,
    ...lines,
    `unanswered after the restart: ${r.unansweredAfterRestart}; WebSocket frame violations: ${r.frameViolations.length}`,
    ...(['lost', 'corrupt', 'stuck', 'unanswered', 'unexpected'] as const).flatMap((k) =>
      r.defects[k].map((d) => `${k}: ${d}`),
    ),
  ].join('\n');
}
