// One server per SQLite data folder: a second `runtrail serve` on the folder of a running one
// exits non-zero saying why, and leaves the first one's running tasks alone, while the CLI's
// commands keep reading and writing the folder beside the server. A server that dies (SIGKILL)
// leaves no lock behind. SQLite only: PostgreSQL replicas share a database on purpose.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REPO_ROOT, imageTask, startServer } from './helpers/server.js';
import { cliOk, runCli } from './helpers/cli.js';
import { guardOpenHandles } from './helpers/open-handles.js';

/** Forces SQLite whatever RUNTRAIL_TEST_BACKEND says (an empty DATABASE_URL counts as unset). */
const SQLITE = { DATABASE_URL: '' };

/** Runs a second `runtrail serve` on the folder to its end; what it printed and its exit code. */
function secondServe(dataDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        RUNTRAIL_DATA_DIR: dataDir,
        RUNTRAIL_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // Should it start after all (the defect), it is stopped once it says it listens.
    child.stdout.on('data', () => {
      if (stdout.includes('runtrail listening on')) child.kill('SIGTERM');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test("a second server on a running server's data folder refuses to start; the CLI works beside it", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtrail-lock-'));
  const server = await startServer({ dataDir, env: SQLITE });
  try {
    const done = await server.post([imageTask()]);
    assert.equal(done.status, 200, done.text);
    // A sync task runs while the second server tries its start (whose crash recovery would end it).
    const slow = imageTask({ positivePrompt: 'a pier [slow:1500]' });
    const running = server.post([slow]);

    const second = await secondServe(dataDir);
    assert.notEqual(second.code, 0, `the second server started:\n${second.stdout}\n${second.stderr}`);
    assert.match(second.stderr, /another runtrail server is already running on the data folder/);
    assert.ok(second.stderr.includes(dataDir), second.stderr);
    assert.doesNotMatch(second.stdout, /listening/);

    const answered = await running;
    assert.equal(answered.status, 200, answered.text);
    assert.equal(answered.json.data?.[0]?.['taskUUID'], slow.taskUUID);

    // The CLI reads and writes the same folder meanwhile, and the server sees what it wrote.
    const listed = JSON.parse(
      await cliOk(['tasks', 'list', '--org', 'default', '--json'], { dataDir, env: SQLITE }),
    ) as unknown;
    assert.ok(
      JSON.stringify(listed).includes(done.json.data![0]!['taskUUID'] as string),
      JSON.stringify(listed).slice(0, 500),
    );
    const created = await cliOk(['keys', 'create', '--org', 'beside'], { dataDir, env: SQLITE });
    const key = created.trim().split('\n').pop()!;
    const withNewKey = await server.post([imageTask()], { key });
    assert.equal(withNewKey.status, 200, withNewKey.text);
    assert.equal((await runCli(['keys', 'list', '--org', 'beside'], { dataDir, env: SQLITE })).code, 0);

    // A server killed outright leaves no lock: the next one starts on the folder and finds everything.
    await server.stop({ keepData: true, signal: 'SIGKILL' });
    const next = await startServer({ dataDir, key: server.key, env: SQLITE });
    try {
      const details = await next.post([{ taskType: 'getTaskDetails', taskUUID: slow.taskUUID }]);
      assert.equal(details.status, 200, details.text);
    } finally {
      await next.stop({ keepData: true });
    }
  } finally {
    await server.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});

guardOpenHandles();
