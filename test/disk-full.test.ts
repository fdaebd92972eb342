// R5, disk full: on a small tmpfs filled to the last byte, every task that must write gets a clear
// serviceUnavailable (REST, WebSocket, async), nothing half-written is ever returned or recorded
// (no result points at a missing or truncated file, getTaskDetails never shows a partial
// response), no partial media file stays behind, and once the space is back the very same
// taskUUIDs run normally, without a restart and without the server having crashed.
// Two cases: the whole data folder on the full disk (the ledger refuses the first write), and
// only the media folder on it (the ledger writes, the image files cannot be written).
// Needs `mount -t tmpfs` (root): skipped, saying why, where that fails; a failure under CI=true.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { pollUntil } from './helpers/async.js';
import { TEST_BACKEND, imageTask, startServer, uuid, type Reply, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/ws-client.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

/** Mounts a 24 MiB tmpfs; undefined and the reason when this machine does not allow it. */
function mountTmpfs(): { dir: string; problem?: undefined } | { dir?: undefined; problem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-disk-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return { problem: `cannot mount a tmpfs here (${stderr || (err as Error).message})` };
  }
}

function unmount(dir: string): void {
  for (let i = 0; ; i++) {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      break;
    } catch {
      // A process just stopped may hold the mount for a moment; after that, detach it lazily.
      if (i === 20) {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
        break;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Writes a file until the filesystem refuses another byte; returns its path. */
function fillUp(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  assert.equal(statfsSync(dir).bavail, 0, 'the filesystem is full');
  return path;
}

/** Checkpoints the database's write-ahead log and truncates it to zero bytes (another connection, as an operator could). */
function truncateLog(databaseFile: string): void {
  const db = new Database(databaseFile, { fileMustExist: true, timeout: 5000 });
  try {
    const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    assert.equal(r?.busy, 0, 'the log was checkpointed and truncated');
  } finally {
    db.close();
  }
  assert.equal(statSync(`${databaseFile}-wal`).size, 0, 'the log is empty');
}

interface Case {
  /** Environment of the server, and where its media folder is. */
  env: Record<string, string>;
  dataDir?: string;
  mediaDir: string;
  /** Whether the ledger can still write while the disk is full (the media folder alone is on it). */
  ledgerWrites: boolean;
}

const errorsOf = (text: string) => (JSON.parse(text) as { errors?: Record<string, unknown>[] }).errors ?? [];
const dataOf = (text: string) => (JSON.parse(text) as { data?: Record<string, unknown>[] }).data ?? [];

/** A clear storage error: serviceUnavailable for this task, saying to retry, leaking nothing internal. */
function assertUnavailable(text: string, taskUUID: string): void {
  const error = errorsOf(text).find((e) => e['taskUUID'] === taskUUID);
  assert.ok(error, `an error for ${taskUUID} in ${text}`);
  assert.equal(error['code'], 'serviceUnavailable', text);
  assert.match(String(error['message']), /Retry later/);
  assert.doesNotMatch(text, /SQLITE|ENOSPC|errno|\bat [\w.]+ \(/, 'no internal detail reaches the caller');
  assert.ok(!dataOf(text).some((d) => d['taskUUID'] === taskUUID), `no result for ${taskUUID}: ${text}`);
}

/** Every image URL in an answer serves the complete file it names: the bytes on disk, decodable, as large as recorded. */
async function assertWholeImages(text: string, mediaDir: string): Promise<string[]> {
  const urls = [...text.matchAll(/"(?:imageURL|mediaURL)":"([^"]+)"/g)].map((m) => m[1]!);
  for (const url of urls) {
    const res = await fetch(url);
    assert.equal(res.status, 200, url);
    const served = Buffer.from(await res.arrayBuffer());
    const file = url.slice(url.lastIndexOf('/') + 1);
    assert.deepEqual(served, readFileSync(join(mediaDir, file)), `${url} serves the file on disk`);
    const { info } = await sharp(served).raw().toBuffer({ resolveWithObject: true });
    assert.ok(info.width > 0 && info.height > 0, `${url} decodes whole`);
  }
  return urls.map((u) => u.slice(u.lastIndexOf('/') + 1));
}

async function details(server: TestServer, taskUUID: string): Promise<Reply> {
  return server.post([{ taskType: 'getTaskDetails', taskUUID }]);
}

async function runCase(c: Case): Promise<void> {
  const server = await startServer({ env: c.env, ...(c.dataDir ? { dataDir: c.dataDir } : {}) });
  const ws = await RawClient.connect(server.url, '/v1');
  let filler: string | undefined;
  try {
    await ws.authenticate(server.key);
    const warm = await server.post([imageTask({ outputFormat: 'PNG' })]);
    assert.equal(warm.status, 200, warm.text);
    const inputImage = dataOf(warm.text)[0]!['imageUUID'];
    const before = new Set(readdirSync(c.mediaDir));

    // The same task objects are sent while the disk is full and again once space is back.
    const image = imageTask({ numberResults: 2, outputFormat: 'PNG' });
    const upload = { taskType: 'imageUpload', taskUUID: uuid(), image: `data:image/png;base64,${PNG_1X1}` };
    const upscale = { taskType: 'upscale', taskUUID: uuid(), inputImage, upscaleFactor: 2 };
    const store = { taskType: 'mediaStorage', taskUUID: uuid(), media: PNG_1X1 };
    const search = { taskType: 'modelSearch', taskUUID: uuid(), search: 'runtrail' };
    const beside = imageTask();
    const overWs = imageTask({ outputFormat: 'WEBP' });
    const queued = imageTask({ deliveryMethod: 'async', numberResults: 2 });
    const sync = [image, upload, upscale, store];

    // The ledger's log is rewritten in place once checkpointed (wal-checkpointer.ts), so a full
    // disk only stops a write that needs the file to grow: cut it to nothing first, as it is
    // after a restart, so the first write while the disk is full needs new space.
    if (!c.ledgerWrites && c.dataDir) truncateLog(join(c.dataDir, 'runtrail.db'));
    filler = fillUp(join(c.mediaDir, '..'));

    for (const task of sync) {
      const reply = await server.post([task]);
      assert.equal(reply.status, 503, reply.text);
      assertUnavailable(reply.text, task.taskUUID as string);
    }
    // Tasks that need no file still run beside one that fails, when the ledger can write.
    const mixed = await server.post([search, beside]);
    assertUnavailable(mixed.text, beside.taskUUID as string);
    if (c.ledgerWrites) {
      assert.equal(mixed.status, 200, mixed.text);
      assert.equal(dataOf(mixed.text)[0]!['taskUUID'], search.taskUUID);
    } else {
      assert.equal(mixed.status, 503, mixed.text);
      assertUnavailable(mixed.text, search.taskUUID);
    }
    ws.send([overWs]);
    assertUnavailable((await ws.forTask(overWs.taskUUID as string)).text, overWs.taskUUID as string);

    const ack = await server.post([queued]);
    if (c.ledgerWrites) {
      // Acknowledged before it ran: its results end as serviceUnavailable errors, never as URLs.
      assert.equal(ack.status, 200, ack.text);
      const done = await pollUntil(
        () => server.post([{ taskType: 'getResponse', taskUUID: queued.taskUUID }]),
        (r) => !r.text.includes('"processing"'),
      );
      assert.equal(errorsOf(done.text).length, 2, done.text);
      for (const e of errorsOf(done.text)) assert.equal(e['code'], 'serviceUnavailable', done.text);
      assert.doesNotMatch(done.text, /imageURL|mediaURL/);
      const recorded = await details(server, queued.taskUUID as string);
      assert.equal(recorded.status, 200);
      assert.doesNotMatch(
        recorded.text,
        /imageURL|mediaURL|"processing"/,
        'the recorded response is complete, without a URL',
      );
    } else {
      assert.equal(ack.status, 503, ack.text);
      assertUnavailable(ack.text, queued.taskUUID as string);
    }

    // Nothing half-written: no task that failed was recorded, and no partial file was left.
    for (const task of [...sync, beside, overWs, ...(c.ledgerWrites ? [] : [queued, search])]) {
      const d = await details(server, task.taskUUID as string);
      assert.equal(d.status, 404, `${task.taskType} ${task.taskUUID} was recorded: ${d.text}`);
    }
    assert.deepEqual(
      readdirSync(c.mediaDir).filter((f) => !before.has(f)),
      [],
      'no file was left in the media folder',
    );
    assert.equal(server.process.exitCode, null, 'the server is running');
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);

    // Space comes back: the very same tasks run, without a restart.
    unlinkSync(filler);
    filler = undefined;
    const produced: string[] = [];
    for (const task of [...sync, beside]) {
      const reply = await server.post([task]);
      assert.equal(reply.status, 200, reply.text);
      produced.push(...(await assertWholeImages(reply.text, c.mediaDir)));
      const d = await details(server, task.taskUUID as string);
      assert.ok(d.text.endsWith(`"response":${reply.text}}]}`), `getTaskDetails shows the whole response: ${d.text}`);
    }
    ws.send([overWs]);
    const frame = await ws.forTask(overWs.taskUUID as string);
    assert.equal(dataOf(frame.text)[0]?.['taskUUID'], overWs.taskUUID, frame.text);
    produced.push(...(await assertWholeImages(frame.text, c.mediaDir)));
    // An async task: the one refused runs now; one acknowledged while full kept its errors, and a new one runs.
    const again = c.ledgerWrites ? { ...queued, taskUUID: uuid() } : queued;
    assert.equal((await server.post([again])).status, 200);
    const finished = await pollUntil(
      () => server.post([{ taskType: 'getResponse', taskUUID: again.taskUUID }]),
      (r) => !r.text.includes('"processing"'),
    );
    assert.equal(dataOf(finished.text).filter((d) => d['status'] === 'success').length, 2, finished.text);
    const recalled = await details(server, again.taskUUID as string);
    produced.push(...(await assertWholeImages(recalled.text, c.mediaDir)));
    assert.deepEqual(
      readdirSync(c.mediaDir)
        .filter((f) => !before.has(f))
        .sort(),
      [...new Set(produced)].sort(),
      'the media folder holds exactly the files of the results handed out',
    );
    assert.equal(server.process.exitCode, null, 'the server never stopped');
    assert.doesNotMatch(server.stderr(), /uncaught|unhandled rejection|FATAL/i);
  } finally {
    if (filler) unlinkSync(filler);
    await ws.close();
    await server.stop();
  }
}

const mount = mountTmpfs();
if (mount.dir === undefined) {
  if (process.env.CI === 'true') {
    test('disk full: a tmpfs is required in CI', () => {
      throw new Error(`${mount.problem}; CI runs as root and must run this suite`);
    });
  } else {
    test(`disk full (skipped: ${mount.problem})`, { skip: mount.problem }, () => {});
  }
} else {
  const root = mount.dir;
  after(() => unmount(root));

  test(
    'the data folder on a full disk: every task gets serviceUnavailable, nothing is recorded, the same tasks run once space is back',
    { skip: TEST_BACKEND === 'sqlite' ? false : 'the ledger is in PostgreSQL, not on this disk', timeout: 60_000 },
    async () => {
      const dataDir = join(root, 'data');
      mkdirSync(dataDir);
      try {
        await runCase({ env: {}, dataDir, mediaDir: join(dataDir, 'media'), ledgerWrites: false });
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );

  test(
    'the media folder on a full disk: image tasks get serviceUnavailable, no partial file or URL, the same tasks run once space is back',
    { timeout: 60_000 },
    async () => {
      const mediaDir = join(root, 'media-only', 'media');
      mkdirSync(mediaDir, { recursive: true });
      try {
        await runCase({ env: { RUNTRAIL_MEDIA_DIR: mediaDir }, mediaDir, ledgerWrites: true });
      } finally {
        rmSync(join(root, 'media-only'), { recursive: true, force: true });
      }
    },
  );
}

guardOpenHandles();
