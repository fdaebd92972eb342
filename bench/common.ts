// What the figures of `npm run bench` share: their options, medians and quantiles, progress on
// stderr, the baseline servers, the tasks they send, and the WebSocket pipeline of P2 and P5.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { REPO_ROOT } from './bench-server.js';

/** The flags of `npm run bench` the figures read. */
export interface BenchOptions {
  /** Stored tasks for P3/P4/P6, tasks run for P5. */
  tasks: number;
  seconds: number;
  runs: number;
  connections: number;
  /** Task frames each WebSocket client keeps in flight. */
  window: number;
  /** P5's time limit. */
  p5Seconds: number;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
export const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
export const log = (s: string) => process.stderr.write(s + '\n');

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 102.4) / 10;
}

export function progress(label: string, done: number, total: number, started: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const rate = done / ((performance.now() - started) / 1000);
  process.stderr.write(
    `\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${((100 * done) / total).toFixed(0).padStart(3)}% ${done}/${total} ${rate.toFixed(0)}/s`,
  );
  if (done === total) process.stderr.write('\n');
}

export async function startBaseline(file: string, args: string[] = []): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/bench', file), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

export const imageTask = (taskUUID: string, i: number) =>
  JSON.stringify({
    taskType: 'imageInference',
    taskUUID,
    model: 'runtrail:procedural@plasma-1',
    positivePrompt: `a benchmark ${i}`,
    width: 64,
    height: 64,
    includeCost: true,
  });
export const searchTask = (taskUUID: string) =>
  JSON.stringify({ taskType: 'modelSearch', taskUUID, search: 'plasma', limit: 1 });

export interface PipelineResult {
  answered: number;
  errors: number;
  perSecond: number;
  rss: number[];
}

/**
 * `clients` WebSocket clients, each keeping `window` task frames in flight until `seconds` pass or
 * `maxTasks` tasks are answered; `onProgress` sees the count.
 */
export async function pipeline(
  wsUrl: string,
  key: string | null,
  makeTask: (taskUUID: string, i: number) => string,
  options: {
    seconds: number;
    window: number;
    maxTasks?: number;
    clients?: number;
    onProgress?: (answered: number) => void;
  },
): Promise<PipelineResult> {
  const clients = options.clients ?? 2;
  const deadline = performance.now() + options.seconds * 1000;
  const max = options.maxTasks ?? Infinity;
  let sent = 0;
  let answered = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      if (key !== null) {
        ws.send(JSON.stringify([{ taskType: 'authentication', apiKey: key }]));
        const auth = await new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
        if (!auth.includes('connectionSessionUUID')) throw new Error(`authentication failed: ${auth}`);
      }
      let inFlight = 0;
      await new Promise<void>((resolve) => {
        const sendOne = () => {
          if (performance.now() > deadline || sent >= max) return false;
          inFlight++;
          ws.send(`[${makeTask(randomUUID(), sent++)}]`);
          return true;
        };
        ws.on('message', (d) => {
          inFlight--;
          answered++;
          if (d.toString().includes('"errors"')) errors++;
          if (answered % 1000 === 0) options.onProgress?.(answered);
          if (!sendOne() && inFlight === 0) resolve();
        });
        for (let i = 0; i < options.window; i++) if (!sendOne()) break;
        if (inFlight === 0) resolve();
      });
      ws.close();
    }),
  );
  return { answered, errors, perSecond: answered / ((performance.now() - started) / 1000), rss: [] };
}
