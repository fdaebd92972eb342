// Fairness between organizations (part `fair` of bench/all.ts): how long a quiet organization's
// async task and webhook wait behind a noisy organization's backlog, against the same quiet
// organization on an idle server, in the same run.
// (Each server runs one quiet task first, so no figure holds start-up costs.)
//   queue wait: ACK to `success` (getResponse) of one quiet 64×64 task, alone, and behind 100
//     noisy tasks of 250 ms each queued just before it (4 workers, the default)
//   webhook wait: ACK to arrival of the quiet task's webhook, alone, and behind 200 noisy
//     webhooks to a receiver that never answers (5 s timeout, the default), with the default
//     per-organization cap and with none (RUNTRAIL_WEBHOOK_ORG_CONCURRENCY=0: turns only)

import { randomUUID } from 'node:crypto';
import { startWebhookReceiver } from './bench-clients.js';
import { createOrgKey, startServer, type BenchServer } from './bench-server.js';

const task = (overrides: Record<string, unknown>) => ({
  taskType: 'imageInference',
  taskUUID: randomUUID(),
  model: 'runtrail:procedural@plasma-1',
  positivePrompt: 'quiet',
  width: 64,
  height: 64,
  deliveryMethod: 'async',
  ...overrides,
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Polls getResponse every 10 ms until the task has a final status; returns ms since `from`. */
async function untilDone(server: BenchServer, taskUUID: string, key: string, from: number): Promise<number> {
  for (;;) {
    const r = await server.post([{ taskType: 'getResponse', taskUUID }], key);
    const status = r.json.data?.[0]?.['status'];
    if (status === 'success' || status === 'error') return performance.now() - from;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function queueWait(noisyTasks: number): Promise<number> {
  const server = await startServer({ env: { RUNTRAIL_SHUTDOWN_GRACE_MS: '100' } });
  try {
    const quietKey = await createOrgKey(server, 'quiet');
    // One task first, so neither figure includes the first task's start-up costs.
    const warm = task({});
    await server.post([warm], quietKey);
    await untilDone(server, warm.taskUUID, quietKey, performance.now());
    for (let sent = 0; sent < noisyTasks; sent += 100) {
      const batch = Array.from({ length: Math.min(100, noisyTasks - sent) }, () =>
        task({ positivePrompt: 'noisy [slow:250]' }),
      );
      const r = await server.post(batch);
      if (r.status !== 200) throw new Error(`noisy batch failed: ${r.text}`);
    }
    const quiet = task({});
    const started = performance.now();
    const r = await server.post([quiet], quietKey);
    if (r.status !== 200) throw new Error(`quiet task failed: ${r.text}`);
    return await untilDone(server, quiet.taskUUID, quietKey, started);
  } finally {
    await server.stop();
  }
}

/** `inFlight`: how many noisy attempts the black hole holds before the quiet task is sent (every slot the cap allows). */
async function webhookWait(noisyWebhooks: number, inFlight: number, env: Record<string, string> = {}): Promise<number> {
  const blackHole = await startWebhookReceiver('hang');
  const healthy = await startWebhookReceiver(200);
  const server = await startServer({
    env: { RUNTRAIL_OUTBOUND_ALLOW: '127.0.0.1', RUNTRAIL_SHUTDOWN_GRACE_MS: '100', ...env },
  });
  try {
    const quietKey = await createOrgKey(server, 'quiet');
    await server.post([task({ webhookURL: healthy.url })], quietKey);
    await healthy.waitFor(1, 60_000);
    for (let sent = 0; sent < noisyWebhooks; sent += 100) {
      const batch = Array.from({ length: Math.min(100, noisyWebhooks - sent) }, () =>
        task({ positivePrompt: 'noisy', webhookURL: blackHole.url }),
      );
      const r = await server.post(batch);
      if (r.status !== 200) throw new Error(`noisy batch failed: ${r.text}`);
    }
    if (noisyWebhooks > 0) await blackHole.waitFor(Math.min(inFlight, noisyWebhooks), 60_000);
    const started = performance.now();
    const r = await server.post([task({ webhookURL: healthy.url })], quietKey);
    if (r.status !== 200) throw new Error(`quiet task failed: ${r.text}`);
    await healthy.waitFor(2, 120_000);
    return performance.now() - started;
  } finally {
    await server.stop();
    await Promise.all([blackHole.close(), healthy.close()]);
  }
}

export interface FairnessResult {
  queueAloneMs: number;
  queueBehindMs: number;
  queueRatio: number;
  webhookAloneMs: number;
  webhookBehindMs: number;
  webhookRatio: number;
  webhookBehindNoCapMs: number;
  samples: Record<string, number[]>;
}

export async function fairness(runs: number, log: (s: string) => void): Promise<FairnessResult> {
  log(
    'fair: a quiet organization behind a noisy one (100 queued tasks; 200 webhooks to a black hole) against the quiet one alone',
  );
  const samples: Record<string, number[]> = {
    queueAlone: [],
    queueBehind: [],
    webhookAlone: [],
    webhookBehind: [],
    webhookBehindNoCap: [],
  };
  for (let r = 0; r < runs; r++) {
    samples['queueAlone']!.push(await queueWait(0));
    samples['queueBehind']!.push(await queueWait(100));
    samples['webhookAlone']!.push(await webhookWait(0, 0));
    samples['webhookBehind']!.push(await webhookWait(200, 8));
    // No cap: the noisy organization fills all 16 slots of the process first.
    samples['webhookBehindNoCap']!.push(await webhookWait(200, 16, { RUNTRAIL_WEBHOOK_ORG_CONCURRENCY: '0' }));
    const last = (k: string) => samples[k]!.at(-1)!.toFixed(0);
    log(
      `  run ${r + 1}: queue ${last('queueAlone')} ms alone, ${last('queueBehind')} ms behind; webhook ${last('webhookAlone')} ms alone, ${last('webhookBehind')} ms behind, ${last('webhookBehindNoCap')} ms behind without a cap`,
    );
  }
  const m = (k: string) => median(samples[k]!);
  return {
    queueAloneMs: m('queueAlone'),
    queueBehindMs: m('queueBehind'),
    queueRatio: m('queueBehind') / m('queueAlone'),
    webhookAloneMs: m('webhookAlone'),
    webhookBehindMs: m('webhookBehind'),
    webhookRatio: m('webhookBehind') / m('webhookAlone'),
    webhookBehindNoCapMs: m('webhookBehindNoCap'),
    samples,
  };
}
