// P3: getTaskDetails p50/p99 with --tasks stored tasks (bulk-loaded through the ledger's import
// path), in process and over HTTP against the bare Fastify server; P4: ledger bytes on disk per
// raw request+response byte on the same data set, and (for P5) on a ledger live traffic wrote.
// Part of `npm run bench` (p3).

import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '../src/accounts/api-keys.js';
import { openSqliteStorage, SQLITE_FILE } from '../src/ledger/sqlite/storage.js';
import type { StoredTask, TaskCursor, TaskWithMedia } from '../src/ledger/types.js';
import { newApiKey, startServer } from './bench-server.js';
import { imageTask, log, progress, quantile, rssMiB, startBaseline, type BenchOptions } from './common.js';

/** The SQLite files' size after a checkpoint folds the write-ahead log into the database. */
function ledgerFileBytes(dataDir: string): number {
  const ck = new Database(join(dataDir, SQLITE_FILE));
  ck.pragma('wal_checkpoint(TRUNCATE)');
  ck.close();
  return [SQLITE_FILE, `${SQLITE_FILE}-wal`, `${SQLITE_FILE}-shm`]
    .map((f) => join(dataDir, f))
    .filter((f) => existsSync(f))
    .reduce((sum, f) => sum + statSync(f).size, 0);
}

/** P4 on a ledger written by live traffic: its files against the raw texts of every task in it. */
export async function liveStorage(
  dataDir: string,
): Promise<{ tasks: number; fileBytes: number; rawBytes: number; ratio: number }> {
  const fileBytes = ledgerFileBytes(dataDir);
  const storage = openSqliteStorage(dataDir);
  let tasks = 0;
  let rawBytes = 0;
  try {
    for (const org of await storage.accounts.listOrganizations()) {
      for (let cursor: TaskCursor | null = null, first = true; first || cursor !== null; first = false) {
        const page = await storage.ledger.listTasks(org.id, {}, cursor, 1000);
        for (const task of page.tasks) {
          tasks++;
          rawBytes += Buffer.byteLength(task.requestText) + Buffer.byteLength(task.responseText ?? '');
        }
        cursor = page.next;
      }
    }
  } finally {
    await storage.close();
  }
  return { tasks, fileBytes, rawBytes, ratio: fileBytes / rawBytes };
}

export async function p3p4(o: BenchOptions) {
  log(`P3/P4: ${o.tasks} stored tasks, bulk-loaded through the ledger`);
  const dataDir = mkdtempSync(join(tmpdir(), 'runtrail-bench-'));
  const key = newApiKey();
  try {
    // A real task through the server, as the template of the bulk data set.
    let server = await startServer({ dataDir, key });
    const templateUUID = randomUUID();
    const reply = await server.post(`[${imageTask(templateUUID, 0)}]`);
    if (reply.status !== 200) throw new Error(`template task failed: ${reply.text}`);
    await server.stop({ keepData: true });
    const storage = openSqliteStorage(dataDir);
    const org = await storage.accounts.findOrganizationByKeyHash(hashApiKey(key));
    if (!org) throw new Error('the template task has no organization');
    const ledgerTemplate = await storage.ledger.findTask(org.id, templateUUID);
    if (!ledgerTemplate) throw new Error('template task not found');
    const uuids: string[] = [];
    let rawBytes = Buffer.byteLength(ledgerTemplate.requestText) + Buffer.byteLength(ledgerTemplate.responseText ?? '');
    const started = performance.now();
    const BATCH = 5000;
    for (let done = 0; done < o.tasks;) {
      const batch: TaskWithMedia[] = [];
      for (let i = 0; i < BATCH && done < o.tasks; i++, done++) {
        const taskUUID = randomUUID();
        const imageUUID = randomUUID();
        const task: StoredTask = {
          ...ledgerTemplate,
          taskUUID,
          requestText: ledgerTemplate.requestText
            .replaceAll(templateUUID, taskUUID)
            .replace('a benchmark 0', `a benchmark ${done}`),
          responseText: ledgerTemplate
            .responseText!.replaceAll(templateUUID, taskUUID)
            .replace(/[0-9a-f-]{36}(?=\.jpg)/, imageUUID)
            .replace(/"seed":\d+/, `"seed":${(done * 7919) % 2147483647}`),
          createdAt: ledgerTemplate.createdAt + done,
          completedAt: ledgerTemplate.createdAt + done + 1,
        };
        rawBytes += Buffer.byteLength(task.requestText) + Buffer.byteLength(task.responseText!);
        if (done % 97 === 0) uuids.push(taskUUID);
        batch.push({ task, media: [] });
      }
      await storage.ledger.importTasks(batch);
      progress('  loading', done, o.tasks, started);
    }
    // P3 (ledger side): the lookup getTaskDetails makes, in process, on random stored tasks.
    const orgId = ledgerTemplate.orgId;
    const lookups: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const u = uuids[(i * 7919) % uuids.length]!;
      const t0 = performance.now();
      const found = await storage.ledger.findTask(orgId, u);
      lookups.push(performance.now() - t0);
      if (!found) throw new Error(`lost ${u}`);
    }
    lookups.sort((a, b) => a - b);
    await storage.close();
    // P4: bytes on disk after a checkpoint, against the raw texts.
    const fileBytes = ledgerFileBytes(dataDir);
    // P3 (end to end): getTaskDetails over HTTP, one request at a time on a keep-alive connection,
    // against the bare Fastify server's answer over the same client.
    server = await startServer({ dataDir, key });
    const baseline = await startBaseline('bare-server.js');
    const http: number[] = [];
    const base: number[] = [];
    try {
      const time = async (url: string, body: string, auth: string) => {
        const t0 = performance.now();
        const res = await fetch(`${url}/v1`, {
          method: 'POST',
          headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
          body,
        });
        const text = await res.text();
        const ms = performance.now() - t0;
        if (res.status !== 200) throw new Error(text);
        return { ms, text };
      };
      for (let i = 0; i < 3000; i++) {
        const u = uuids[(i * 104729) % uuids.length]!;
        const got = await time(server.url, JSON.stringify([{ taskType: 'getTaskDetails', taskUUID: u }]), key);
        if (!got.text.includes(u) || !got.text.includes('"request"'))
          throw new Error(`bad recall of ${u}: ${got.text}`);
        if (i >= 200) http.push(got.ms);
        const b = await time(baseline.url, '[]', 'x');
        if (i >= 200) base.push(b.ms);
      }
      const rss = rssMiB(server.process.pid!);
      http.sort((a, b) => a - b);
      base.sort((a, b) => a - b);
      return {
        p3: {
          tasks: o.tasks,
          loadSeconds: (performance.now() - started) / 1000,
          ledgerP50Ms: quantile(lookups, 0.5),
          ledgerP99Ms: quantile(lookups, 0.99),
          httpP50Ms: quantile(http, 0.5),
          httpP99Ms: quantile(http, 0.99),
          baselineHttpP50Ms: quantile(base, 0.5),
          baselineHttpP99Ms: quantile(base, 0.99),
          serverRssAfterRecallMiB: rss,
        },
        p4: {
          tasks: o.tasks + 1,
          rawBytes,
          fileBytes,
          bytesPerTask: fileBytes / (o.tasks + 1),
          rawPerTask: rawBytes / (o.tasks + 1),
          ratio: fileBytes / rawBytes,
        },
      };
    } finally {
      baseline.stop();
      await server.stop({ keepData: true });
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
