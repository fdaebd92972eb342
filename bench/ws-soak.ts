// WebSocket soak: many concurrent clients run tasks over /v1 for a while, then every task is
// recalled with getTaskDetails and compared byte for byte with what was sent and received
// (request text and answer frame). Reports missing and mismatched tasks, throughput, latency,
// the server's RSS before, during and after, and the same mix over REST for a ratio.
// Usage: npm run bench:ws-soak [-- --seconds 60 --clients 200]

import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { WebSocket } from 'ws';
import { REPO_ROOT, startServer, type BenchServer } from './bench-server.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    clients: { type: 'string', default: '200' },
    'rest-seconds': { type: 'string', default: '10' },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const restSeconds = Number(values['rest-seconds']);

interface Sent {
  taskUUID: string;
  /** The task object's text exactly as sent. */
  text: string;
  /** The answer frame exactly as received. */
  frame: string;
}

const SMALL_PNG = (
  await sharp({ create: { width: 8, height: 8, channels: 3, background: '#224466' } })
    .png()
    .toBuffer()
).toString('base64');

/** The task mix: mostly small renders, some failures, searches and upscales; some texts pretty-printed. */
function nextTask(i: number): { taskUUID: string; text: string } {
  const taskUUID = randomUUID();
  let task: Record<string, unknown>;
  const kind = i % 10;
  if (kind < 6) {
    task = {
      taskType: 'imageInference',
      taskUUID,
      model: 'runtrail:procedural@plasma-1',
      positivePrompt: `soak ${i}`,
      width: 64,
      height: 64,
      numberResults: 1 + (i % 3 === 0 ? 1 : 0),
      includeCost: true,
    };
  } else if (kind === 6) {
    task = {
      taskType: 'imageInference',
      taskUUID,
      model: 'runtrail:procedural@plasma-1',
      positivePrompt: 'a failure',
      width: 7,
      height: 64,
    };
  } else if (kind === 7) {
    task = { taskType: 'modelSearch', taskUUID, search: 'plasma', limit: 5 };
  } else if (kind === 8) {
    task = {
      taskType: 'upscale',
      taskUUID,
      inputImage: SMALL_PNG,
      upscaleFactor: 2,
      outputType: 'base64Data',
      outputFormat: 'PNG',
    };
  } else {
    task = {
      taskType: 'imageInference',
      taskUUID,
      model: 'runtrail:procedural@plasma-1',
      positivePrompt: 'inline',
      width: 64,
      height: 64,
      outputType: 'base64Data',
      outputFormat: 'WEBP',
      seed: 1.0e3,
    };
  }
  const text = i % 3 === 0 ? JSON.stringify(task, null, 1) : JSON.stringify(task);
  return { taskUUID, text };
}

function rssOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: Math.round(kb('VmRSS') / 102.4) / 10, peakMiB: Math.round(kb('VmHWM') / 102.4) / 10 };
}

/** One client: authenticates, then runs one task at a time until the deadline. */
async function runClient(
  wsUrl: string,
  key: string,
  deadline: number,
  id: number,
  sent: Sent[],
  latencies: number[],
): Promise<number> {
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  let waiting: ((frame: string) => void) | undefined;
  ws.on('message', (data) => waiting?.(data.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const nextFrame = () => new Promise<string>((resolve) => (waiting = resolve));
  ws.send(JSON.stringify([{ taskType: 'authentication', apiKey: key }]));
  const auth = await nextFrame();
  if (!auth.includes('connectionSessionUUID')) throw new Error(`client ${id}: authentication failed: ${auth}`);
  let errors = 0;
  for (let i = id; Date.now() < deadline; i += clients) {
    const { taskUUID, text } = nextTask(i);
    const started = performance.now();
    const answer = nextFrame();
    ws.send(`[${text}]`);
    const frame = await answer;
    latencies.push(performance.now() - started);
    if (!frame.includes(taskUUID)) errors++;
    sent.push({ taskUUID, text, frame });
  }
  ws.close();
  return errors;
}

/** Recalls every task with getTaskDetails (REST, 100 per request) and compares the stored texts byte for byte. */
async function recall(
  server: BenchServer,
  sent: Sent[],
): Promise<{ missing: number; mismatched: number; examples: string[] }> {
  let missing = 0;
  let mismatched = 0;
  const examples: string[] = [];
  const batches: Sent[][] = [];
  for (let i = 0; i < sent.length; i += 100) batches.push(sent.slice(i, i + 100));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const reply = await server.post(batch.map((s) => ({ taskType: 'getTaskDetails', taskUUID: s.taskUUID })));
      const notFound = new Set(
        (reply.json.errors ?? []).filter((e) => e['code'] === 'taskNotFound').map((e) => e['taskUUID']),
      );
      for (const s of batch) {
        if (notFound.has(s.taskUUID)) {
          missing++;
          continue;
        }
        if (!reply.text.includes(`"request":[${s.text}],"response":${s.frame}}`)) {
          mismatched++;
          if (examples.length < 3) examples.push(s.taskUUID);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { missing, mismatched, examples };
}

/** The same task mix over REST with the same concurrency, for a throughput ratio. */
async function restPhase(server: BenchServer, durationMs: number): Promise<number> {
  const deadline = Date.now() + durationMs;
  let done = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, id) => {
      for (let i = id; Date.now() < deadline; i += clients) {
        await server.post(`[${nextTask(i).text}]`);
        done++;
      }
    }),
  );
  return done / (durationMs / 1000);
}

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 10) / 10;
};

const server = await startServer({ env: { RUNTRAIL_LOG_LEVEL: 'error' } });
const pid = server.process.pid!;
const wsUrl = `${server.url.replace(/^http/, 'ws')}/v1`;
try {
  const before = rssOf(pid);
  const sent: Sent[] = [];
  const latencies: number[] = [];
  let during = before;
  /** RSS every 10 s of the run: a plateau, not a slope, is what says nothing leaks per task. */
  const timeline: number[] = [];
  let ticks = 0;
  const sampler = setInterval(() => {
    const now = rssOf(pid);
    if (now.rssMiB > during.rssMiB) during = now;
    if (++ticks % 10 === 0) timeline.push(now.rssMiB);
  }, 1_000);
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const wrongFrames = (
    await Promise.all(
      Array.from({ length: clients }, (_, id) => runClient(wsUrl, server.key, deadline, id, sent, latencies)),
    )
  ).reduce((a, b) => a + b, 0);
  const elapsed = (Date.now() - started) / 1000;
  clearInterval(sampler);
  const afterRun = rssOf(pid);
  const recalled = await recall(server, sent);
  const restTasksPerSecond = await restPhase(server, restSeconds * 1000);
  const after = rssOf(pid);
  const wsTasksPerSecond = Math.round((sent.length / elapsed) * 10) / 10;
  const result = {
    date: new Date().toISOString(),
    clients,
    seconds,
    tasks: sent.length,
    wsTasksPerSecond,
    restTasksPerSecond: Math.round(restTasksPerSecond * 10) / 10,
    wsToRestRatio: Math.round((wsTasksPerSecond / restTasksPerSecond) * 100) / 100,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
    framesForAnotherTask: wrongFrames,
    missing: recalled.missing,
    mismatched: recalled.mismatched,
    mismatchedExamples: recalled.examples,
    serverRssMiB: {
      beforeRun: before.rssMiB,
      every10s: timeline,
      highestDuringRun: during.rssMiB,
      afterRun: afterRun.rssMiB,
      afterRecallAndRest: after.rssMiB,
      peak: after.peakMiB,
    },
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench/results/ws-soak.json'), JSON.stringify(result, null, 2) + '\n');
  if (recalled.missing > 0 || recalled.mismatched > 0 || wrongFrames > 0) process.exitCode = 1;
} finally {
  await server.stop();
}
