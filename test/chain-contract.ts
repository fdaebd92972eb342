// The ledger integrity contract (docs/ledger-integrity.md), run against each backend by
// chain-sqlite.test.ts and chain-postgres.test.ts: a real server records tasks (sync, async with
// result items, with media), then the database and media folder are tampered with the way
// someone with access to them would, and `runtrail ledger verify`, the API and
// `tasks verify-export` must report exactly what was done, task by task. Checkpoints, deletion
// receipts and legal holds are driven through the CLI and the API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { imageTask, startServer, uuid, type TestServer } from './helpers/server.js';
import { runCli } from './helpers/cli.js';
import { finished, getResponse, pollUntil } from './helpers/async.js';
import { bulkLoad } from './helpers/bulk-ledger.js';
import type { VerifyReport } from '../src/integrity/verify-ledger.js';
import type { ExportReport } from '../src/integrity/export-proof.js';

/** How a suite reaches one backend's database behind a running server. */
export interface ChainBackend {
  name: string;
  /** Server environment (DATABASE_URL for PostgreSQL). */
  env(): Promise<Record<string, string>>;
  /** Runs one SQL statement on the server's database (`?` placeholders), returning its rows. */
  sql(
    server: TestServer,
    env: Record<string, string>,
    statement: string,
    params?: unknown[],
  ): Promise<Record<string, unknown>[]>;
  /** Swaps entries `a` and `b` of one lane in place, the way someone reordering the table's rows would. */
  swapEntries(
    server: TestServer,
    env: Record<string, string>,
    lane: { orgId: string; lane: string },
    a: number,
    b: number,
  ): Promise<void>;
  /** Replaces a task's stored request text (whatever layout the backend keeps it in). */
  editRequestText(
    server: TestServer,
    env: Record<string, string>,
    taskUUID: string,
    edit: (text: string) => string,
  ): Promise<void>;
  dispose(env: Record<string, string>): Promise<void>;
}

async function verifyJson(
  server: TestServer,
  env: Record<string, string>,
  extra: string[] = [],
): Promise<VerifyReport & { code: number | null }> {
  const r = await runCli(['ledger', 'verify', '--json', ...extra], { dataDir: server.dataDir, env });
  assert.ok(r.code === 0 || r.code === 2, `verify exited ${r.code}: ${r.stderr}`);
  return { ...(JSON.parse(r.stdout) as VerifyReport), code: r.code };
}

async function sendSync(server: TestServer, n: number, prompt: string): Promise<string[]> {
  const tasks = Array.from({ length: n }, (_, i) => imageTask({ positivePrompt: `${prompt} ${i}` }));
  const reply = await server.post(tasks);
  assert.equal(reply.status, 200, reply.text);
  return tasks.map((t) => t.taskUUID as string);
}

export function chainContract(backend: ChainBackend): void {
  test(`${backend.name} chain: verify passes on an untouched ledger, then reports each kind of tampering exactly`, async () => {
    const env = await backend.env();
    const server = await startServer({ env });
    try {
      const uuids = await sendSync(server, 8, 'a lighthouse at dusk');
      // An async task: its result items and completion extend the chain too.
      const asyncTask = imageTask({ deliveryMethod: 'async', positivePrompt: 'a harbour [slow:50]' });
      assert.equal((await server.post([asyncTask])).status, 200);
      await pollUntil(() => getResponse(server, asyncTask.taskUUID as string), finished);
      // A task refused by validation (recorded finished in one write).
      await server.post([imageTask({ width: 3 })]);

      const clean = await verifyJson(server, env);
      assert.equal(clean.ok, true, JSON.stringify(clean.firstProblem));
      assert.equal(clean.code, 0);
      // Eight sync tasks (record, completion), the async one (record, item, completion), the
      // refused one (recorded finished in one write: one entry).
      assert.ok(clean.entries >= 8 * 2 + 3 + 1, `entries: ${clean.entries}`);
      assert.ok(clean.mediaFilesChecked >= 8, `media files checked: ${clean.mediaFilesChecked}`);

      // The API answers the same for the caller's organization.
      const api = await fetch(`${server.url}/api/ledger/verify`, {
        headers: { authorization: `Bearer ${server.key}` },
      });
      assert.equal(api.status, 200);
      assert.equal(((await api.json()) as { data: VerifyReport[] }).data[0]!.ok, true);
      const noKey = await fetch(`${server.url}/api/ledger/verify`);
      assert.equal(noKey.status, 401);

      const [edited, statusEdited, deleted, mediaReplaced] = uuids;
      // 1. An edited request text.
      await backend.editRequestText(server, env, edited!, (t) => t.replace('lighthouse', 'lightbulb'));
      // 2. An edited status.
      await backend.sql(server, env, `UPDATE tasks SET status = 'error' WHERE task_uuid = ?`, [statusEdited]);
      // 3. A deleted row.
      await backend.sql(server, env, 'DELETE FROM tasks WHERE task_uuid = ?', [deleted]);
      // 4. A replaced media file.
      const [mediaRow] = await backend.sql(server, env, 'SELECT media_uuid, format FROM media WHERE task_uuid = ?', [
        mediaReplaced,
      ]);
      assert.ok(mediaRow, 'the task has a media row');
      const mediaFile = join(
        server.dataDir,
        'media',
        `${String(mediaRow['media_uuid'])}.${String(mediaRow['format'])}`,
      );
      const original = readFileSync(mediaFile);
      writeFileSync(
        mediaFile,
        Buffer.concat([original.subarray(0, original.length - 1), Buffer.from([original.at(-1)! ^ 1])]),
      );

      const broken = await verifyJson(server, env);
      assert.equal(broken.ok, false);
      assert.equal(broken.code, 2, 'a broken ledger exits 2');
      const of = (taskUUID: string) =>
        broken.problems.filter((p) => p.taskUUID === taskUUID).map((p) => [p.kind, p.field]);
      assert.deepEqual(of(edited!), [['row-edited', 'requestText']]);
      assert.deepEqual(of(statusEdited!), [['row-edited', 'status']]);
      assert.deepEqual(of(deleted!), [['row-removed', undefined]]);
      assert.deepEqual(of(mediaReplaced!), [['media-changed', 'media']]);
      assert.equal(broken.problemCount, 4, JSON.stringify(broken.problems));
      assert.ok(
        broken.firstProblem && [edited, statusEdited, deleted, mediaReplaced].includes(broken.firstProblem.taskUUID!),
      );
      const human = await runCli(['ledger', 'verify'], { dataDir: server.dataDir, env });
      assert.equal(human.code, 2);
      assert.match(human.stdout, /BROKEN: 4 problems/);

      // 5. Reordered entries: two entries of one lane swap places. That needs a lane holding
      // entries 2 and 4; on PostgreSQL each connection keeps a lane of its own and the tasks above
      // ran concurrently, so they may be spread thin. Tasks sent one at a time share a lane.
      const topQuery =
        'SELECT org_id, lane, max(seq) AS top FROM chain_entries GROUP BY org_id, lane ORDER BY max(seq) DESC LIMIT 1';
      for (let i = 0; i < 40; i++) {
        const [longest] = await backend.sql(server, env, topQuery);
        if (Number(longest?.['top']) >= 4) break;
        await sendSync(server, 1, `one at a time ${i}`);
      }
      const [lane] = await backend.sql(server, env, topQuery);
      const swapped = { orgId: String(lane!['org_id']), lane: String(lane!['lane']) };
      await backend.swapEntries(server, env, swapped, 2, 4);
      const reordered = await verifyJson(server, env);
      const chainProblems = reordered.problems.filter(
        (p) =>
          p.lane === lane!['lane'] && ['reordered', 'entry-removed', 'entry-inserted', 'entry-edited'].includes(p.kind),
      );
      assert.equal(chainProblems[0]?.kind, 'reordered', JSON.stringify(chainProblems));
      assert.equal(chainProblems[0]?.seq, 2);
      // Put them back, so the next finding is about the next tampering only (the swapped entries
      // may belong to the task it renames).
      await backend.swapEntries(server, env, swapped, 2, 4);

      // 6. An inserted row: a task written around the ledger.
      const [row] = await backend.sql(server, env, 'SELECT * FROM tasks WHERE task_uuid = ?', [uuids[5]]);
      assert.ok(row);
      const sneaked = uuid();
      await backend.sql(server, env, 'UPDATE tasks SET task_uuid = ? WHERE task_uuid = ?', [sneaked, uuids[6]]);
      const inserted = await verifyJson(server, env);
      assert.deepEqual(
        inserted.problems.filter((p) => p.taskUUID === sneaked).map((p) => p.kind),
        ['row-inserted'],
      );
      assert.deepEqual(
        inserted.problems.filter((p) => p.taskUUID === uuids[6]).map((p) => p.kind),
        ['row-removed'],
      );
    } finally {
      await server.stop();
      await backend.dispose(env);
    }
  });

  test(`${backend.name} chain: a ledger bulk-loaded through the batch import verifies clean, and tampering with it is reported`, async () => {
    const env = await backend.env();
    // Several import batches (the helper's are 1 000 tasks) and more entries than one page of the walk (2 000).
    const count = 2500;
    const bulk = await bulkLoad(await startServer({ env }), count, (i) => `a batch-imported lighthouse ${i}`, env);
    const server = bulk.server;
    try {
      const clean = await verifyJson(server, env);
      assert.equal(clean.ok, true, JSON.stringify(clean.firstProblem));
      // One `finished` entry per imported copy; the template, a real task, a record and a completion.
      assert.equal(clean.entries, count + 2);
      // Copy i was created i milliseconds after the first (the template, a real task, comes last).
      const nth = async (i: number) =>
        String(
          (await backend.sql(server, env, 'SELECT task_uuid FROM tasks ORDER BY created_at LIMIT 1 OFFSET ?', [i]))[0]![
            'task_uuid'
          ],
        );
      const [edited, statusEdited, deleted] = [await nth(1999), await nth(2001), await nth(2450)];
      await backend.editRequestText(server, env, edited, (t) => t.replace('lighthouse', 'lightbulb'));
      await backend.sql(server, env, `UPDATE tasks SET status = 'error' WHERE task_uuid = ?`, [statusEdited]);
      await backend.sql(server, env, 'DELETE FROM tasks WHERE task_uuid = ?', [deleted]);
      // An entry taken out of the middle of its lane (in the second import batch).
      const [entry] = await backend.sql(
        server,
        env,
        `SELECT org_id, lane, seq, task_uuid FROM chain_entries WHERE kind = 'finished' ORDER BY lane, seq LIMIT 1 OFFSET 1200`,
      );
      assert.ok(entry);
      await backend.sql(server, env, 'DELETE FROM chain_entries WHERE org_id = ? AND lane = ? AND seq = ?', [
        entry['org_id'],
        entry['lane'],
        entry['seq'],
      ]);
      const broken = await verifyJson(server, env);
      assert.equal(broken.code, 2);
      const of = (taskUUID: string) =>
        broken.problems.filter((p) => p.taskUUID === taskUUID).map((p) => [p.kind, p.field]);
      assert.deepEqual(of(edited), [['row-edited', 'requestText']]);
      assert.deepEqual(of(statusEdited), [['row-edited', 'status']]);
      assert.deepEqual(of(deleted), [['row-removed', undefined]]);
      const removed = broken.problems.filter((p) => p.kind === 'entry-removed');
      assert.deepEqual(
        removed.map((p) => [p.lane, p.seq]),
        [[entry['lane'], Number(entry['seq']) + 1]],
        JSON.stringify(broken.problems),
      );
      // The removed entry was its task's only one (an import is recorded finished in one write),
      // so the task is also reported as in the ledger without an entry.
      assert.deepEqual(of(String(entry['task_uuid'])), [['row-inserted', undefined]]);
      assert.equal(broken.problemCount, 5, JSON.stringify(broken.problems));
    } finally {
      await bulk.cleanup();
      await backend.dispose(env);
    }
  });

  test(`${backend.name} chain: a signed checkpoint proves the ledger up to it; a cut-off chain only a checkpoint reveals`, async () => {
    const env = await backend.env();
    const server = await startServer({ env });
    const dir = mkdtempSync(join(tmpdir(), 'runtrail-checkpoint-'));
    try {
      await sendSync(server, 4, 'a quiet bay');
      // Where every lane ends now: the state someone will roll the database back to.
      const before = await backend.sql(server, env, 'SELECT lane, max(seq) AS top FROM chain_entries GROUP BY lane');
      const later = await sendSync(server, 2, 'after the backup');
      const file = join(dir, 'checkpoint.json');
      const wrote = await runCli(['ledger', 'checkpoint', '--out', file], { dataDir: server.dataDir, env });
      assert.equal(wrote.code, 0, wrote.stderr);
      const keyFile = join(dir, 'ledger.pub');
      writeFileSync(keyFile, (await runCli(['ledger', 'public-key'], { dataDir: server.dataDir, env })).stdout);
      const ok = await verifyJson(server, env, ['--checkpoint', file, '--public-key', keyFile]);
      assert.equal(ok.ok, true, JSON.stringify(ok.firstProblem));
      assert.equal(ok.checkpoint?.lanes, (JSON.parse(readFileSync(file, 'utf8')) as { heads: unknown[] }).heads.length);

      // The API takes the checkpoint as its body.
      const viaApi = await fetch(`${server.url}/api/ledger/verify`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.key}`, 'content-type': 'application/json' },
        body: readFileSync(file, 'utf8'),
      });
      const viaApiText = await viaApi.text();
      assert.equal((JSON.parse(viaApiText) as { data: VerifyReport[] }).data[0]?.ok, true, viaApiText);

      // The database rolled back to before the last two tasks (a restored backup, or their rows
      // and entries removed cleanly): what is left links up, but the checkpoint no longer matches.
      for (const r of before)
        await backend.sql(server, env, 'DELETE FROM chain_entries WHERE lane = ? AND seq > ?', [r['lane'], r['top']]);
      const lanes = before.map((r) => String(r['lane']));
      await backend.sql(
        server,
        env,
        `DELETE FROM chain_entries WHERE lane NOT IN (${lanes.map(() => '?').join(', ')})`,
        lanes,
      );
      for (const u of later) await backend.sql(server, env, 'DELETE FROM tasks WHERE task_uuid = ?', [u]);
      const plain = await verifyJson(server, env);
      assert.equal(
        plain.ok,
        true,
        `without a checkpoint a clean rollback cannot be told apart: ${JSON.stringify(plain.firstProblem)}`,
      );
      const proven = await verifyJson(server, env, ['--checkpoint', file]);
      assert.equal(proven.ok, false);
      assert.ok(
        proven.problems.every((p) => p.kind === 'checkpoint-mismatch'),
        JSON.stringify(proven.problems),
      );

      // A checkpoint edited after signing is refused.
      const forged = JSON.parse(readFileSync(file, 'utf8')) as { heads: { seq: number }[] };
      forged.heads[0]!.seq += 1;
      writeFileSync(file, JSON.stringify(forged));
      const refused = await verifyJson(server, env, ['--checkpoint', file]);
      assert.match(refused.firstProblem?.detail ?? '', /signature does not match/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await server.stop();
      await backend.dispose(env);
    }
  });

  test(`${backend.name} chain: an export proves itself offline; an edited or truncated export is reported`, async () => {
    const env = await backend.env();
    const server = await startServer({ env });
    const dir = mkdtempSync(join(tmpdir(), 'runtrail-export-'));
    try {
      await sendSync(server, 5, 'a red boat');
      const file = join(dir, 'tasks.ndjson');
      const exported = await runCli(['tasks', 'export', '--ndjson', file, '--with-media'], {
        dataDir: server.dataDir,
        env,
      });
      assert.equal(exported.code, 0, exported.stderr);
      assert.deepEqual(readdirSync(dir).sort(), [
        'tasks.ndjson',
        'tasks.ndjson.chain.ndjson',
        'tasks.ndjson.proof.json',
      ]);
      const keyFile = join(dir, 'ledger.pub');
      writeFileSync(keyFile, (await runCli(['ledger', 'public-key'], { dataDir: server.dataDir, env })).stdout);
      await server.stop({ keepData: true });

      // Offline: no server, no database in the environment.
      const offline = (args: string[]) => runCli(['tasks', 'verify-export', ...args], { dataDir: dir, env: {} });
      const good = await offline([file, '--public-key', keyFile, '--json']);
      assert.equal(good.code, 0, good.stdout + good.stderr);
      const report = JSON.parse(good.stdout) as ExportReport;
      assert.equal(report.ok, true);
      assert.equal(report.tasks, 5);

      // An exported text edited.
      const original = readFileSync(file, 'utf8');
      writeFileSync(file, original.replace('a red boat 2', 'a blue boat 2'));
      const edited = JSON.parse((await offline([file, '--json'])).stdout) as ExportReport;
      assert.deepEqual(
        edited.problems.map((p) => [p.kind, p.field ?? null]),
        [
          ['export-edited', null],
          ['row-edited', 'requestText'],
        ],
      );

      // A truncated export: its last task line cut off.
      writeFileSync(file, original);
      truncateSync(file, statSync(file).size - Math.floor(original.split('\n').at(-2)!.length / 2));
      const cut = await offline([file]);
      assert.equal(cut.code, 2);
      assert.match(cut.stdout, /export-truncated/);
      const cutReport = JSON.parse((await offline([file, '--json'])).stdout) as ExportReport;
      assert.equal(cutReport.firstProblem?.kind, 'export-truncated');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await server.stop();
      await backend.dispose(env);
    }
  });

  test(`${backend.name} chain: deletions leave tombstones and signed receipts; legal holds stop them and say so`, async () => {
    const env = await backend.env();
    const server = await startServer({ env });
    const dir = mkdtempSync(join(tmpdir(), 'runtrail-receipt-'));
    try {
      const [viaApi, viaCli, held, orgHeld] = await sendSync(server, 4, 'a windmill');
      const auth = { authorization: `Bearer ${server.key}` };
      const publicKey = (await runCli(['ledger', 'public-key'], { dataDir: server.dataDir, env })).stdout;

      // Deleting over the API answers a signed receipt.
      const res = await fetch(`${server.url}/api/tasks/${viaApi!}`, { method: 'DELETE', headers: auth });
      assert.equal(res.status, 200);
      const receipt = ((await res.json()) as { data: Record<string, unknown>[] }).data[0]!;
      assert.equal(receipt['taskUUID'], viaApi);
      assert.equal(receipt['reason'], 'request');
      const { keyId, publicKey: carried, signature, ...body } = receipt;
      assert.ok(typeof keyId === 'string');
      assert.equal(carried, publicKey);
      assert.ok(
        verifySignature(
          null,
          Buffer.from(JSON.stringify(body)),
          createPublicKey(publicKey),
          Buffer.from(String(signature), 'base64'),
        ),
        'the receipt is signed with the ledger key',
      );
      const again = await fetch(`${server.url}/api/tasks/${viaApi!}`, { method: 'DELETE', headers: auth });
      assert.equal(again.status, 404);
      assert.equal(((await again.json()) as { errors: { code: string }[] }).errors[0]!.code, 'taskNotFound');
      // The same taskUUID sent again after its deletion is a new task; deleting that one too leaves
      // a second tombstone, which covers everything recorded under the UUID before it.
      const resent = await server.post([{ ...imageTask({ positivePrompt: 'a windmill again' }), taskUUID: viaApi! }]);
      assert.equal(resent.status, 200, resent.text);
      const second = await fetch(`${server.url}/api/tasks/${viaApi!}`, { method: 'DELETE', headers: auth });
      assert.equal(second.status, 200);
      const reused = await verifyJson(server, env);
      assert.equal(reused.ok, true, JSON.stringify(reused.firstProblem));
      const badUuid = await fetch(`${server.url}/api/tasks/not-a-uuid`, { method: 'DELETE', headers: auth });
      assert.equal(((await badUuid.json()) as { errors: { code: string }[] }).errors[0]!.code, 'invalidTaskUUID');

      // Deleting with the CLI writes receipts on request.
      const receipts = join(dir, 'receipts.ndjson');
      const deleted = await runCli(['tasks', 'delete', viaCli!, '--receipts', receipts], {
        dataDir: server.dataDir,
        env,
      });
      assert.equal(deleted.code, 0, deleted.stderr);
      const cliReceipt = JSON.parse(readFileSync(receipts, 'utf8').trim()) as Record<string, unknown>;
      assert.equal(cliReceipt['reason'], 'operator');

      // The chain still verifies: the tombstones say the deletions were meant.
      const afterDeletes = await verifyJson(server, env);
      assert.equal(afterDeletes.ok, true, JSON.stringify(afterDeletes.firstProblem));
      const [tomb] = await backend.sql(
        server,
        env,
        "SELECT payload FROM chain_entries WHERE kind = 'tombstone' AND task_uuid = ?",
        [viaApi],
      );
      assert.equal((JSON.parse(String(tomb!['payload'])) as { removed: string }).removed, receipt['removed']);

      // A hold on one task (API), then on the organization (CLI).
      const hold = await fetch(`${server.url}/api/ledger/holds`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ taskUUID: held, reason: 'case 4711' }),
      });
      assert.equal(hold.status, 200);
      const refused = await fetch(`${server.url}/api/tasks/${held!}`, { method: 'DELETE', headers: auth });
      assert.equal(refused.status, 409);
      const envelope = (await refused.json()) as { errors: { code: string; message: string }[] };
      assert.equal(envelope.errors[0]!.code, 'legalHold');
      assert.match(envelope.errors[0]!.message, /case 4711/);
      const cliRefused = await runCli(['tasks', 'delete', held!], { dataDir: server.dataDir, env });
      assert.equal(cliRefused.code, 1);
      assert.match(cliRefused.stderr, /legal hold/);

      assert.equal(
        (await runCli(['ledger', 'hold', '--reason', 'audit 2026'], { dataDir: server.dataDir, env })).code,
        0,
      );
      const holds = await runCli(['ledger', 'holds'], { dataDir: server.dataDir, env });
      assert.match(holds.stdout, /organization {2}since .* audit 2026/);
      const orgRefused = await fetch(`${server.url}/api/tasks/${orgHeld!}`, { method: 'DELETE', headers: auth });
      assert.equal(orgRefused.status, 409);
      // Deleting by date skips what is held (the whole organization here).
      const sweep = await runCli(['tasks', 'delete', '--before', String(Date.now() + 60_000)], {
        dataDir: server.dataDir,
        env,
      });
      assert.match(sweep.stdout, /Deleted 0 tasks/);
      assert.equal((await runCli(['ledger', 'release'], { dataDir: server.dataDir, env })).code, 0);
      const lift = await fetch(`${server.url}/api/ledger/holds?taskUUID=${held!}`, { method: 'DELETE', headers: auth });
      assert.deepEqual(((await lift.json()) as { data: unknown[] }).data, [{ taskUUID: held, lifted: true }]);
      const now = await runCli(['tasks', 'delete', '--before', String(Date.now() + 60_000)], {
        dataDir: server.dataDir,
        env,
      });
      assert.match(now.stdout, /Deleted 2 tasks/);
      const final = await verifyJson(server, env);
      assert.equal(final.ok, true, JSON.stringify(final.firstProblem));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await server.stop();
      await backend.dispose(env);
    }
  });

  test(`${backend.name} chain: a kill -9 under load leaves every task and its chain entries together; verify passes after the restart`, async () => {
    const env = await backend.env();
    let server = await startServer({
      env: { ...env, RUNTRAIL_WORKERS: '8', RUNTRAIL_JOB_LEASE_MS: '2000', RUNTRAIL_JOB_POLL_MS: '100' },
    });
    try {
      // Requests keep going (sync batches and async tasks) until the kill lands in the middle of them.
      const sends: Promise<unknown>[] = [];
      let stop = false;
      const pump = async (i: number) => {
        for (let n = 0; !stop; n++) {
          const batch = [
            imageTask({ positivePrompt: `crash ${i}.${n} a` }),
            imageTask({ positivePrompt: `crash ${i}.${n} b [slow:20]`, deliveryMethod: 'async' }),
          ];
          await server.post(batch).catch(() => undefined);
        }
      };
      for (let i = 0; i < 6; i++) sends.push(pump(i));
      await new Promise((r) => setTimeout(r, 1500));
      const dataDir = server.dataDir;
      const key = server.key;
      await server.stop({ keepData: true, signal: 'SIGKILL' });
      stop = true;
      await Promise.all(sends);
      server = await startServer({
        dataDir,
        key,
        env: { ...env, RUNTRAIL_WORKERS: '8', RUNTRAIL_JOB_LEASE_MS: '2000', RUNTRAIL_JOB_POLL_MS: '100' },
      });
      // Async tasks the dead process left are taken up again; let them finish before verifying.
      const [pending] = await backend.sql(server, env, "SELECT count(*) AS n FROM tasks WHERE status = 'processing'");
      await pollUntil(
        () => backend.sql(server, env, "SELECT count(*) AS n FROM tasks WHERE status = 'processing'"),
        (rows) => Number(rows[0]!['n']) === 0,
        30_000,
        200,
      ).catch(() => undefined);
      const report = await verifyJson(server, env);
      assert.equal(
        report.ok,
        true,
        `after the kill (${String(pending!['n'])} processing at restart): ${JSON.stringify(report.firstProblem)}`,
      );
      assert.ok(report.entries > 10, `entries: ${report.entries}`);
    } finally {
      await server.stop();
      rmSync(server.dataDir, { recursive: true, force: true });
      await backend.dispose(env);
    }
  });

  test(`${backend.name} chain: tasks recorded before the chain existed are adopted by ledger adopt; a row slipped in later is not`, async () => {
    const env = await backend.env();
    const first = await startServer({ env });
    const dataDir = first.dataDir;
    let server: TestServer = first;
    try {
      const old = await sendSync(first, 3, 'a ledger older than its chain');
      await first.stop({ keepData: true });
      // A ledger from before the chain: its tasks have no entries, and the chain "began" after them.
      await backend.sql(first, env, 'DELETE FROM chain_entries');
      const began = Date.now() + 1;
      await backend.sql(first, env, 'UPDATE schema_migrations SET applied_at = ? WHERE version = 11', [began]);
      await new Promise((r) => setTimeout(r, 5));
      server = await startServer({ env, dataDir, key: first.key });
      const [later] = await sendSync(server, 1, 'recorded once the chain began');

      const before = await verifyJson(server, env);
      assert.deepEqual(
        before.problems.map((p) => [p.kind, p.taskUUID]).sort(),
        old.map((u) => ['row-inserted', u]).sort(),
        JSON.stringify(before.problems),
      );
      assert.match(before.problems[0]!.detail, /runtrail ledger adopt/);

      // A row slipped in after the chain began (a chained task renamed): adoption must leave it.
      const sneaked = uuid();
      await backend.sql(server, env, 'UPDATE tasks SET task_uuid = ? WHERE task_uuid = ?', [sneaked, later]);
      const adopt = await runCli(['ledger', 'adopt'], { dataDir, env });
      assert.equal(adopt.code, 0, adopt.stderr);
      assert.match(adopt.stdout, /adopted 3 tasks created before/);
      assert.match(adopt.stdout, /1 task without an entry created since were left/);
      const after = await verifyJson(server, env);
      assert.deepEqual(
        after.problems.map((p) => [p.kind, p.taskUUID]).sort(),
        [
          ['row-inserted', sneaked],
          ['row-removed', later],
        ],
        JSON.stringify(after.problems),
      );

      // Put back, the ledger verifies whole; adopting again appends nothing.
      await backend.sql(server, env, 'UPDATE tasks SET task_uuid = ? WHERE task_uuid = ?', [later, sneaked]);
      const clean = await verifyJson(server, env);
      assert.equal(clean.ok, true, JSON.stringify(clean.firstProblem));
      assert.equal(clean.entries, before.entries + 3, 'the three adopted entries beside what was there');
      const again = await runCli(['ledger', 'adopt'], { dataDir, env });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, '');
      // An adopted task's deletion is receipted like any other's: its tombstone covers the adopted entry.
      const deleted = await runCli(['tasks', 'delete', old[0]!], { dataDir, env });
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal((await verifyJson(server, env)).ok, true);
    } finally {
      await server.stop();
      await backend.dispose(env);
    }
  });
}
