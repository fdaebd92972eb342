// P6: latency of the dashboard's aggregates (GET /api/stats: groups + latency percentiles) on a
// large ledger, for each range preset, against the listing's own count query over the same range
// (what the task list already runs on every load), measured in the same run.
// Usage: node dist/bench/dashboard.js [--tasks 1000000 --runs 5]; also part of `npm run bench` (p6).
// The tasks are spread evenly over the last 30 days: 90 % in the measured organization, 10 % in
// another one (which the scoped queries must skip), 5 % failed with one of three codes, three
// models and three API keys.

import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openSqliteStorage, SQLITE_FILE } from '../src/ledger/sqlite/storage.js';
import type { StoredTask, TaskWithMedia } from '../src/ledger/types.js';
import { statsRange } from '../src/history/stats-summary.js';

const DAY = 86_400_000;
const PRESETS = ['1h', '24h', '7d', '30d'] as const;

export interface DashboardBench {
  tasks: number;
  presets: Record<string, { tasksInRange: number; statsMs: number; countMs: number; ratio: number }>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function dashboardBench(
  tasks: number,
  runs = 5,
  log = (s: string) => process.stderr.write(s + '\n'),
): Promise<DashboardBench> {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtrail-bench-dashboard-'));
  try {
    const storage = openSqliteStorage(dataDir);
    const orgA = (await storage.accounts.ensureOrganization('measured')).id;
    const orgB = (await storage.accounts.ensureOrganization('neighbour')).id;
    const now = Date.now();
    const models = ['runware:101@1', 'runware:100@1', 'runtrail:1@1'];
    const codes = ['invalidWidth', 'syncTimeout', 'providerError'];
    const keys = [randomUUID(), randomUUID(), randomUUID()];
    const started = performance.now();
    const BATCH = 5_000;
    const span = 30 * DAY;
    // Written through the ledger's import path (the one `runtrail tasks import` uses), so the rows,
    // their word index and the rollups are what the server itself would have stored.
    try {
      for (let done = 0; done < tasks;) {
        const batch: TaskWithMedia[] = [];
        for (let i = 0; i < BATCH && done < tasks; i++, done++) {
          const taskUUID = randomUUID();
          const failed = done % 20 === 7;
          const createdAt = now - span + Math.floor((done / tasks) * span);
          const task: StoredTask = {
            orgId: done % 10 === 9 ? orgB : orgA,
            taskUUID,
            taskType: 'imageInference',
            status: failed ? 'error' : 'success',
            requestText: `[{"taskType":"imageInference","taskUUID":"${taskUUID}","model":"${models[done % 3]}","positivePrompt":"a benchmark picture ${done}","width":512,"height":512,"includeCost":true}]`,
            responseText: failed
              ? `{"data":[],"errors":[{"code":"${codes[done % 3]}","message":"failed","taskUUID":"${taskUUID}"}]}`
              : `{"data":[{"taskType":"imageInference","taskUUID":"${taskUUID}","imageUUID":"${randomUUID()}","imageURL":"http://127.0.0.1:8080/media/token/x.jpg","seed":${done},"cost":0.0013}]}`,
            model: models[done % 3] ?? null,
            transport: 'rest',
            cost: failed ? null : 0.0013,
            errorCode: failed ? (codes[done % 3] ?? null) : null,
            engine: 'builtin',
            createdAt,
            completedAt: createdAt + 20 + (done % 977),
            apiKeyId: keys[done % 3] ?? null,
          };
          batch.push({ task, media: [] });
        }
        await storage.ledger.importTasks(batch);
        if (done % 200_000 === 0 || done === tasks)
          log(`  loaded ${done}/${tasks} (${(done / ((performance.now() - started) / 1000)).toFixed(0)}/s)`);
      }
    } finally {
      await storage.close();
    }
    // Planner statistics, as a database that has been in use a while would have them.
    const db = new Database(join(dataDir, SQLITE_FILE));
    db.exec('ANALYZE');
    db.close();

    const reopened = openSqliteStorage(dataDir);
    const presets: DashboardBench['presets'] = {};
    try {
      for (const preset of PRESETS) {
        const range = statsRange({ preset }, now);
        const stats: number[] = [];
        const counts: number[] = [];
        let inRange = 0;
        for (let r = 0; r < runs; r++) {
          let t0 = performance.now();
          const [groups] = await Promise.all([
            reopened.aggregates.rows(orgA, range),
            reopened.aggregates.latencyRows(orgA, range),
          ]);
          stats.push(performance.now() - t0);
          inRange = groups.reduce((n, g) => n + g.tasks, 0);
          t0 = performance.now();
          await reopened.ledger.countTasks(orgA, { createdFrom: range.from, createdBefore: range.until });
          counts.push(performance.now() - t0);
        }
        const statsMs = median(stats);
        const countMs = median(counts);
        presets[preset] = { tasksInRange: inRange, statsMs, countMs, ratio: statsMs / countMs };
        log(
          `  ${preset}: ${inRange} tasks, aggregates ${statsMs.toFixed(1)} ms, listing count ${countMs.toFixed(1)} ms, ratio ${(statsMs / countMs).toFixed(2)}`,
        );
      }
    } finally {
      await reopened.close();
    }
    return { tasks, presets };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Run alone: node dist/bench/dashboard.js
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { tasks: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '5' } },
  });
  const result = await dashboardBench(Number(values.tasks), Number(values.runs));
  console.table(
    Object.entries(result.presets).map(([preset, r]) => ({
      range: preset,
      'tasks in range': r.tasksInRange,
      'aggregates ms (p50 of runs)': r.statsMs.toFixed(1),
      'listing count ms (baseline)': r.countMs.toFixed(1),
      ratio: r.ratio.toFixed(2),
    })),
  );
  const dir = join(fileURLToPath(import.meta.url), '../../../bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'dashboard.json'), JSON.stringify(result, null, 2) + '\n');
}
