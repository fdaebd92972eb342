// `runtrail keys create | list | revoke` and the first-start key, driven through the bin as an
// operator would, against a server that uses the same data folder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REPO_ROOT, imageTask, post, startServer } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '' } },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()!.trim();
}

interface ListedKey {
  id: string;
  orgId: string;
  orgName: string;
  prefix: string;
  label: string | null;
  createdAt: number;
  revokedAt: number | null;
}

async function listJson(dataDir: string, org?: string): Promise<ListedKey[]> {
  const r = await cli(['keys', 'list', '--json', '--data-dir', dataDir, ...(org ? ['--org', org] : [])]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ListedKey[];
}

/** No 12-character piece of the key (one more than the shown prefix) appears in `text`. */
function assertNoKeyIn(text: string, key: string, what: string): void {
  for (let i = 0; i + 12 <= key.length; i++)
    assert.ok(!text.includes(key.slice(i, i + 12)), `${what} shows part of the key`);
  assert.ok(!text.includes(createHash('sha256').update(key).digest('hex')), `${what} shows the key's hash`);
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'runtrail-cli-'));
}

test('keys create prints the key last; list and list --json show its prefix, never the key; the key authenticates', async () => {
  const dataDir = tempDir();
  try {
    const created = await cli(['keys', 'create', '--org', 'acme', '--label', 'ci', '--data-dir', dataDir]);
    assert.equal(created.code, 0, created.stderr);
    const key = lastLine(created.stdout);
    assert.match(key, /^rt_[A-Za-z0-9_-]{40,}$/);
    const second = lastLine((await cli(['keys', 'create', '--org', 'acme', '--data-dir', dataDir])).stdout);
    const other = lastLine((await cli(['keys', 'create', '--org', 'globex', '--data-dir', dataDir])).stdout);
    assert.equal(new Set([key, second, other]).size, 3);

    const table = await cli(['keys', 'list', '--data-dir', dataDir]);
    assert.equal(table.code, 0, table.stderr);
    for (const k of [key, second, other]) {
      assert.ok(table.stdout.includes(k.slice(0, 11)), `the table shows the prefix ${k.slice(0, 11)}`);
      assertNoKeyIn(table.stdout, k, 'keys list');
    }
    assert.match(table.stdout, /acme/);
    assert.match(table.stdout, /globex/);

    const listed = await listJson(dataDir);
    assert.equal(listed.length, 3);
    const mine = listed.find((k) => key.startsWith(k.prefix))!;
    assert.ok(mine, 'the key is listed by its prefix');
    assert.equal(mine.orgName, 'acme');
    assert.equal(mine.label, 'ci');
    assert.equal(mine.revokedAt, null);
    assert.ok(mine.prefix.length >= 6 && mine.prefix.length < 16, mine.prefix);
    const json = JSON.stringify(listed);
    for (const k of [key, second, other]) assertNoKeyIn(json, k, 'keys list --json');
    assert.deepEqual(
      (await listJson(dataDir, 'globex')).map((k) => k.prefix),
      [other.slice(0, listed[0]!.prefix.length)],
    );

    const server = await startServer({ dataDir });
    try {
      const task = imageTask();
      const run = await server.post([task], { key });
      assert.equal(run.status, 200, run.text);
      // A second key of the same organization sees the same tasks; another organization's does not.
      const lookup = [{ taskType: 'getTaskDetails', taskUUID: task.taskUUID }];
      assert.equal((await server.post(lookup, { key: second })).status, 200);
      assert.equal((await server.post(lookup, { key: other })).status, 404);
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('keys revoke by id and by prefix: the revoked key then gets 401 invalidApiKey, the others keep working', async () => {
  const server = await startServer();
  try {
    const byId = lastLine((await cli(['keys', 'create', '--org', 'acme', '--data-dir', server.dataDir])).stdout);
    const byPrefix = lastLine((await cli(['keys', 'create', '--org', 'acme', '--data-dir', server.dataDir])).stdout);
    const kept = lastLine((await cli(['keys', 'create', '--org', 'acme', '--data-dir', server.dataDir])).stdout);
    for (const key of [byId, byPrefix, kept]) assert.equal((await server.post([imageTask()], { key })).status, 200);

    const listed = await listJson(server.dataDir, 'acme');
    const idOf = listed.find((k) => byId.startsWith(k.prefix))!.id;
    const prefixOf = listed.find((k) => byPrefix.startsWith(k.prefix))!.prefix;

    const revokedById = await cli(['keys', 'revoke', idOf, '--data-dir', server.dataDir]);
    assert.equal(revokedById.code, 0, revokedById.stderr);
    assert.match(revokedById.stdout, /Revoked 1 key/);
    const revokedByPrefix = await cli(['keys', 'revoke', prefixOf, '--data-dir', server.dataDir]);
    assert.equal(revokedByPrefix.code, 0, revokedByPrefix.stderr);

    // The running server sees the revocation at once.
    for (const key of [byId, byPrefix]) {
      const res = await server.post([imageTask()], { key });
      assert.equal(res.status, 401, res.text);
      assert.equal(res.json.errors?.[0]?.['code'], 'invalidApiKey');
      assert.ok(res.text.startsWith('{"data":[],"errors":['));
      // The authentication object is refused the same way.
      const viaObject = await server.post([{ taskType: 'authentication', apiKey: key }, imageTask()], { key: null });
      assert.equal(viaObject.status, 401);
    }
    assert.equal((await server.post([imageTask()], { key: kept })).status, 200);
    assert.equal((await server.post([imageTask()])).status, 200, 'the default key is untouched');

    const after = await listJson(server.dataDir, 'acme');
    assert.equal(after.filter((k) => k.revokedAt !== null).length, 2);
    assert.match((await cli(['keys', 'list', '--data-dir', server.dataDir])).stdout, /revoked/);

    // Revoking again, an unknown id, or a mere piece of a prefix revokes nothing and fails.
    for (const arg of [idOf, 'no-such-key', 'rt_', prefixOf.slice(0, -1)]) {
      const r = await cli(['keys', 'revoke', arg, '--data-dir', server.dataDir]);
      assert.equal(r.code, 1, `revoke ${arg}: ${r.stdout}`);
      assert.match(r.stderr, /No active key/);
    }
    assert.equal((await server.post([imageTask()], { key: kept })).status, 200);
  } finally {
    await server.stop();
  }
});

/** `runtrail serve` exactly as `npm start` runs it, without RUNTRAIL_API_KEY. */
async function serveWithoutKey(dataDir: string): Promise<{ url: string; stdout: string; stop: () => Promise<void> }> {
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
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start\n${out}\n${err}`)), 20_000);
    child.stdout.on('data', () => {
      const m = /runtrail listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}\n${out}\n${err}`));
    });
  });
  return {
    url,
    stdout: out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

test('the first serve with no keys prints a key once; the second start prints none; the key works', async () => {
  const dataDir = tempDir();
  try {
    const first = await serveWithoutKey(dataDir);
    let key: string;
    try {
      const lines = first.stdout.trim().split('\n');
      const at = lines.findIndex((l) => /API key/.test(l));
      assert.ok(at >= 0, `a key announcement in:\n${first.stdout}`);
      key = lines[at + 1]!.trim();
      assert.match(key, /^rt_[A-Za-z0-9_-]{40,}$/);
      const run = await post(first.url, [imageTask()], key);
      assert.equal(run.status, 200, run.text);
      assert.equal((await post(first.url, [imageTask()], 'rt_wrong')).status, 401);
    } finally {
      await first.stop();
    }

    const second = await serveWithoutKey(dataDir);
    try {
      assert.ok(!/API key/.test(second.stdout), `no new key announced:\n${second.stdout}`);
      assert.doesNotMatch(second.stdout, /rt_[A-Za-z0-9_-]{20,}/);
      assert.equal((await post(second.url, [imageTask()], key)).status, 200);
    } finally {
      await second.stop();
    }
    const listed = await listJson(dataDir);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.orgName, 'default');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a server started with RUNTRAIL_API_KEY prints no key of its own', async () => {
  const server = await startServer();
  try {
    assert.doesNotMatch(server.stdout(), /API key/);
    assert.ok(!server.stdout().includes(server.key));
    assert.equal((await listJson(server.dataDir)).length, 1);
  } finally {
    await server.stop();
  }
});

guardOpenHandles();
