// A server never starts silently on storage it cannot trust, and says when its storage fails:
// a zero-length, missing or damaged runtrail.db stops the start with a clear message (an empty
// database beside a media folder of images means the ledger was lost), /healthz answers 503 when
// the ledger cannot be read (SQLite and PostgreSQL), and RUNTRAIL_API_KEY must have a usable length.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BIN,
  REPO_ROOT,
  dropSchemaOf,
  imageTask,
  newApiKey,
  schemaDatabaseUrl,
  startServer,
} from './helpers/server.js';
import { postgresSuiteGate, uniqueSchema } from './helpers/postgres.js';
import { guardOpenHandles } from './helpers/open-handles.js';

/** Forces SQLite whatever RUNTRAIL_TEST_BACKEND says (an empty DATABASE_URL counts as unset). */
const SQLITE = { DATABASE_URL: '' };

/** Runs `runtrail serve` to its end (stopping it should it start); its exit code and output. */
function serveToExit(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        RUNTRAIL_LOG_LEVEL: 'warn',
        ...SQLITE,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.includes('runtrail listening on')) child.kill('SIGTERM');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A data folder holding a ledger of `tasks` finished tasks with their images, its server stopped. */
async function usedDataFolder(tasks: number): Promise<{ dataDir: string; key: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtrail-integrity-'));
  const server = await startServer({ dataDir, env: SQLITE });
  for (let i = 0; i < tasks; i += 20) {
    const reply = await server.post(Array.from({ length: Math.min(20, tasks - i) }, () => imageTask()));
    assert.equal(reply.status, 200, reply.text);
  }
  await server.stop({ keepData: true });
  assert.ok(readdirSync(join(dataDir, 'media')).length >= tasks);
  return { dataDir, key: server.key };
}

function removeLog(dataDir: string): void {
  for (const f of ['runtrail.db-wal', 'runtrail.db-shm']) rmSync(join(dataDir, f), { force: true });
}

/** Overwrites `length` bytes of the file at `offset` with `byte`. */
function overwrite(file: string, offset: number, length: number, byte: number): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(length, byte), 0, length, offset);
  } finally {
    closeSync(fd);
  }
}

describe('the database is checked before a server starts on it', () => {
  test('a zero-length or missing runtrail.db beside a media folder of images: the start is refused', async () => {
    const { dataDir } = await usedDataFolder(20);
    try {
      const db = join(dataDir, 'runtrail.db');
      truncateSync(db, 0);
      removeLog(dataDir);
      const empty = await serveToExit({ RUNTRAIL_DATA_DIR: dataDir });
      assert.notEqual(empty.code, 0, empty.stdout);
      assert.match(empty.stderr, /runtrail\.db is empty \(0 bytes\), but the media folder .* holds images/);
      assert.equal(statSync(db).size, 0, 'nothing was written over the evidence');
      rmSync(db);
      const missing = await serveToExit({ RUNTRAIL_DATA_DIR: dataDir });
      assert.notEqual(missing.code, 0, missing.stdout);
      assert.match(missing.stderr, /runtrail\.db does not exist, but the media folder/);
      assert.equal(existsSync(db), false);
      // Without images there is nothing to lose: a new, empty ledger starts.
      rmSync(join(dataDir, 'media'), { recursive: true });
      const fresh = await serveToExit({ RUNTRAIL_DATA_DIR: dataDir });
      assert.match(fresh.stdout, /runtrail listening on/, fresh.stderr);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a damaged runtrail.db (header, or pages) refuses to start, naming the damage', async () => {
    const { dataDir } = await usedDataFolder(300);
    try {
      const db = join(dataDir, 'runtrail.db');
      removeLog(dataDir);
      const size = statSync(db).size;
      assert.ok(size > 16 * 4096, `a ledger of 300 tasks spans many pages (${size} bytes)`);
      // Pages in the middle of the file are overwritten: the header is intact, the b-trees are not.
      overwrite(db, 4 * 4096, 8 * 4096, 0x5a);
      const pages = await serveToExit({ RUNTRAIL_DATA_DIR: dataDir });
      assert.notEqual(pages.code, 0, pages.stdout);
      assert.match(pages.stderr, /runtrail\.db is damaged \(SQLite quick_check: .+\)\. Restore it from a backup/);
      overwrite(db, 0, 16, 0x00);
      const header = await serveToExit({ RUNTRAIL_DATA_DIR: dataDir });
      assert.notEqual(header.code, 0, header.stdout);
      assert.match(header.stderr, /runtrail\.db is not a SQLite database \(its header is damaged\)/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('/healthz reports storage failure', () => {
  test('SQLite: once the database is emptied under the running server, /healthz answers 503', async () => {
    const server = await startServer({ env: SQLITE });
    try {
      assert.equal((await server.post([imageTask()])).status, 200);
      const ok = await fetch(`${server.url}/healthz`);
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { status: string }).status, 'ok');
      // The database file, its log and the log's index all lose their contents.
      truncateSync(join(server.dataDir, 'runtrail.db'), 0);
      truncateSync(join(server.dataDir, 'runtrail.db-wal'), 0);
      overwrite(join(server.dataDir, 'runtrail.db-shm'), 0, 32 * 1024, 0);
      const failing = await fetch(`${server.url}/healthz`);
      assert.equal(failing.status, 503);
      assert.deepEqual(await failing.json(), { status: 'unavailable', storage: 'failing' });
    } finally {
      await server.stop();
    }
  });
});

describe('RUNTRAIL_API_KEY must have a usable length', () => {
  for (const [name, key] of [
    ['10 characters (listings would show it almost whole)', 'rt_abcdefg'],
    ['513 characters (authentication refuses keys that long)', 'rt_' + 'k'.repeat(510)],
    ['a space inside', 'rt_' + 'k'.repeat(20) + ' ' + 'k'.repeat(20)],
  ] as const) {
    test(`${name}: the server does not start, and says why without echoing the key`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'runtrail-key-'));
      try {
        const run = await serveToExit({ RUNTRAIL_DATA_DIR: dataDir, RUNTRAIL_API_KEY: key });
        assert.notEqual(run.code, 0, run.stdout);
        assert.match(
          run.stderr,
          /RUNTRAIL_API_KEY \(or --api-key\) (must be 32 to 512 characters long|may hold only printable ASCII)/,
        );
        assert.ok(!run.stderr.includes(key) && !run.stdout.includes(key));
        assert.equal(existsSync(join(dataDir, 'runtrail.db')), false, 'nothing was stored');
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }

  test('32 characters: the server starts and the key authenticates', async () => {
    const key = 'rt_' + 'a1'.repeat(14) + 'b';
    assert.equal(key.length, 32);
    const server = await startServer({ key, env: SQLITE });
    try {
      assert.equal((await server.post([imageTask()])).status, 200);
    } finally {
      await server.stop();
    }
  });
});

if (await postgresSuiteGate('healthz on PostgreSQL')) {
  test('PostgreSQL: once the schema is gone from under the running server, /healthz answers 503', async () => {
    const databaseUrl = await schemaDatabaseUrl(uniqueSchema());
    const server = await startServer({ key: newApiKey(), env: { DATABASE_URL: databaseUrl } });
    try {
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      await dropSchemaOf(databaseUrl);
      const failing = await fetch(`${server.url}/healthz`);
      assert.equal(failing.status, 503);
      assert.deepEqual(await failing.json(), { status: 'unavailable', storage: 'failing' });
    } finally {
      await server.stop();
      await dropSchemaOf(databaseUrl);
    }
  });
}

guardOpenHandles();
