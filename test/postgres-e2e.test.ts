// The end-to-end suites against a PostgreSQL-backed server: a representative subset of the
// SQLite suites, run unchanged with RUNTRAIL_TEST_BACKEND=postgres, so every server they start
// gets its own schema (test/helpers/server.ts). Skipped, saying why, without PostgreSQL; a
// failure under CI=true.

import { after, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './helpers/server.js';
import { TEST_DATABASE_URL, postgresSuiteGate } from './helpers/postgres.js';
import { guardOpenHandles } from './helpers/open-handles.js';

// crash-recovery is left out: it opens the SQLite file itself; test/replicas.test.ts and
// crash-inflight (a SIGKILL with ~2 000 tasks in flight, about 10 s) cover a SIGKILL on PostgreSQL.
const SUITES = [
  'smoke',
  'decisions',
  'isolation',
  'async-delivery',
  'websocket-protocol',
  'history-api',
  'task-types',
  'webhooks',
  'sdk-async',
  'crash-inflight',
  'secrets',
  'isolation-timing',
  'tenant-fairness',
  'history-search',
  'large-bodies',
  'task-retention',
  'output-archive',
  'upstream-accounts-only',
  'limits-gateway',
];

if (await postgresSuiteGate('end-to-end suites on PostgreSQL')) {
  // Every schema this run's servers made starts with this prefix; all are dropped at the end.
  const prefix = `rt_e2e_${randomBytes(4).toString('hex')}_`;
  after(async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ nspname: string }>(
        'SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)',
        [prefix],
      );
      for (const { nspname } of rows) await client.query(`DROP SCHEMA IF EXISTS ${nspname} CASCADE`);
    } finally {
      await client.end();
    }
  });
  for (const suite of SUITES) {
    test(`${suite} on a PostgreSQL-backed server`, { timeout: 180_000 }, async () => {
      const file = join(REPO_ROOT, 'dist/test', `${suite}.test.js`);
      // The child is a test run of its own, not a part of this one (node sets NODE_TEST_CONTEXT).
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        RUNTRAIL_TEST_BACKEND: 'postgres',
        RUNTRAIL_TEST_DATABASE_URL: TEST_DATABASE_URL,
        RUNTRAIL_TEST_SCHEMA_PREFIX: prefix,
      };
      delete env['NODE_TEST_CONTEXT'];
      const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--test', '--test-reporter=tap', file], {
          cwd: REPO_ROOT,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
        child.on('error', reject);
        child.on('close', (c) => resolve({ code: c, output }));
      });
      const passed = Number(/^# pass (\d+)/m.exec(output)?.[1] ?? 0);
      assert.equal(code, 0, `${suite} failed on PostgreSQL:\n${output.slice(-6000)}`);
      assert.ok(passed > 0, `${suite} ran no test on PostgreSQL:\n${output.slice(-2000)}`);
    });
  }
}

guardOpenHandles();
