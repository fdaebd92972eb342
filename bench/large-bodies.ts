// Large bodies (docs/performance.md, "Large bodies"): P4 (ledger bytes on disk / raw request +
// response bytes) for a corpus of image-to-image tasks carrying their input image as a base64
// data URI, recorded and completed through the ledger as the server does. In the shared corpus
// the tasks draw their input from a few images (a user iterating on one picture), so the blob
// table keeps each image once; the unique corpus gives every task its own image, which shows
// what storing base64 decoded saves alone. Then the recall of a 30 MiB request: findTask, and
// getTaskDetails over HTTP, against reading and decoding the same bytes from a file in the same
// run (the floor any store has). Part of `npm run bench` (large).

import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStorage, SQLITE_FILE } from '../src/ledger/sqlite/storage.js';
import { openPostgresStorage } from '../src/ledger/postgres/storage.js';
import type { Storage } from '../src/ledger/types.js';
import { newApiKey, startServer } from './bench-server.js';
import { log, median } from './common.js';
import { dropSchemaOf, postgresUnavailable, schemaDatabaseUrl, uniqueSchema } from './bench-postgres.js';
import pg from 'pg';

const MIB = 1024 * 1024;

export interface CorpusFigure {
  tasks: number;
  distinctImages: number;
  rawBytes: number;
  ledgerBytes: number;
  ratio: number;
}

export interface LargeBodiesResult {
  sqliteShared: CorpusFigure;
  sqliteUnique: CorpusFigure;
  postgresShared: CorpusFigure | null;
  recall: { bytes: number; findTaskMs: number; httpMs: number; fileBaselineMs: number; ratio: number };
}

/** An image-to-image request with its input as a data URI, and its answer (an image URL, like the server's). */
function corpusTask(taskUUID: string, image: string, i: number): { request: string; response: string } {
  return {
    request: `[{"taskType":"imageInference","taskUUID":"${taskUUID}","model":"runware:101@1","positivePrompt":"the harbour at night, variation ${String(i)}","seedImage":"data:image/jpeg;base64,${image}","strength":0.${String(5 + (i % 4))},"width":1024,"height":1024,"steps":30,"seed":${String(1000 + i)}}]`,
    response: `{"data":[{"taskType":"imageInference","taskUUID":"${taskUUID}","imageUUID":"${randomUUID()}","imageURL":"http://127.0.0.1:8080/media/${randomUUID()}.jpg","seed":${String(1000 + i)},"cost":0.0013}]}`,
  };
}

/** Records and completes `tasks` tasks drawing on `images` through the storage's ledger; returns the raw bytes. */
async function writeCorpus(storage: Storage, tasks: number, images: readonly string[]): Promise<number> {
  const org = await storage.accounts.ensureOrganization('bench');
  let raw = 0;
  const batch = 50;
  for (let start = 0; start < tasks; start += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, tasks - start) }, async (_, k) => {
        const i = start + k;
        const taskUUID = randomUUID();
        const { request, response } = corpusTask(taskUUID, images[i % images.length]!, i);
        raw += Buffer.byteLength(request) + Buffer.byteLength(response);
        const createdAt = Date.now();
        await storage.ledger.recordRequest({
          orgId: org.id,
          taskUUID,
          taskType: 'imageInference',
          requestText: request,
          model: 'runware:101@1',
          transport: 'rest',
          createdAt,
        });
        await storage.ledger.completeTask({
          orgId: org.id,
          taskUUID,
          status: 'success',
          responseText: response,
          cost: 0.0013,
          errorCode: null,
          engine: 'builtin',
          completedAt: createdAt + 1,
          media: [],
        });
      }),
    );
  }
  return raw;
}

/** The SQLite files' size after a checkpoint folds the write-ahead log into the database. */
function sqliteBytes(dataDir: string): number {
  const db = new Database(join(dataDir, SQLITE_FILE));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return [SQLITE_FILE, `${SQLITE_FILE}-wal`, `${SQLITE_FILE}-shm`]
    .map((f) => join(dataDir, f))
    .filter((f) => existsSync(f))
    .reduce((sum, f) => sum + statSync(f).size, 0);
}

/** JPEG-like input images: incompressible bytes, as encoded photos are. */
function images(count: number, bytes: number): string[] {
  return Array.from({ length: count }, () => randomBytes(bytes).toString('base64'));
}

async function sqliteCorpus(tasks: number, inputs: readonly string[]): Promise<CorpusFigure> {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtrail-bench-large-'));
  try {
    const storage = openSqliteStorage(dataDir);
    let rawBytes: number;
    try {
      rawBytes = await writeCorpus(storage, tasks, inputs);
    } finally {
      await storage.close();
    }
    const ledgerBytes = sqliteBytes(dataDir);
    return { tasks, distinctImages: inputs.length, rawBytes, ledgerBytes, ratio: ledgerBytes / rawBytes };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function postgresCorpus(tasks: number, inputs: readonly string[]): Promise<CorpusFigure | null> {
  const why = await postgresUnavailable();
  if (why !== undefined) {
    log(`  large bodies on PostgreSQL skipped: ${why}`);
    return null;
  }
  const schema = uniqueSchema();
  const url = await schemaDatabaseUrl(schema);
  try {
    const storage = await openPostgresStorage({ connectionString: url });
    let rawBytes: number;
    try {
      rawBytes = await writeCorpus(storage, tasks, inputs);
    } finally {
      await storage.close();
    }
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let ledgerBytes = 0;
    try {
      // Tables with their indexes and TOAST, after a VACUUM so dead tuples of completions do not count.
      for (const table of ['tasks', 'text_blobs', 'text_blob_refs']) await client.query(`VACUUM ${table}`);
      const { rows } = await client.query<{ bytes: string }>(
        `SELECT sum(pg_total_relation_size(c.oid)) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname IN ('tasks', 'text_blobs', 'text_blob_refs')`,
        [schema],
      );
      ledgerBytes = Number(rows[0]?.bytes ?? 0);
    } finally {
      await client.end();
    }
    return { tasks, distinctImages: inputs.length, rawBytes, ledgerBytes, ratio: ledgerBytes / rawBytes };
  } finally {
    await dropSchemaOf(url);
  }
}

/** The recall of a 30 MiB request: findTask in process and getTaskDetails over HTTP, against a file read. */
async function recall(runs: number): Promise<LargeBodiesResult['recall']> {
  const dataDir = mkdtempSync(join(tmpdir(), 'runtrail-bench-large-'));
  const key = newApiKey();
  try {
    const taskUUID = randomUUID();
    const head = `[{"taskType":"imageInference","taskUUID":"${taskUUID}","model":"runware:101@1","positivePrompt":"recall","seedImage":"data:image/png;base64,`;
    const tail = '"}]';
    const body =
      head +
      randomBytes(24 * MIB)
        .toString('base64')
        .slice(0, 30 * MIB - head.length - tail.length) +
      tail;
    const server = await startServer({ dataDir, key });
    const httpMs: number[] = [];
    try {
      await fetch(`${server.url}/v1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body,
      });
      for (let r = 0; r < runs; r++) {
        const started = performance.now();
        const res = await fetch(`${server.url}/v1`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify([{ taskType: 'getTaskDetails', taskUUID }]),
        });
        const text = await res.text();
        httpMs.push(performance.now() - started);
        if (!text.includes(body)) throw new Error('getTaskDetails did not give the request back exactly');
      }
    } finally {
      await server.stop({ keepData: true });
    }
    const storage = openSqliteStorage(dataDir);
    const findMs: number[] = [];
    try {
      const org = (await storage.accounts.listOrganizations()).find((o) => o.name === 'default')!;
      for (let r = 0; r < runs; r++) {
        const started = performance.now();
        const task = await storage.ledger.findTask(org.id, taskUUID);
        findMs.push(performance.now() - started);
        if (task?.requestText !== body) throw new Error('findTask did not give the request back exactly');
      }
    } finally {
      await storage.close();
    }
    const file = join(dataDir, 'baseline.json');
    writeFileSync(file, body);
    const fileMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      const started = performance.now();
      const text = readFileSync(file, 'utf8');
      fileMs.push(performance.now() - started);
      if (text.length !== body.length) throw new Error('baseline read short');
    }
    const findTaskMs = median(findMs);
    const fileBaselineMs = median(fileMs);
    return {
      bytes: body.length,
      findTaskMs,
      httpMs: median(httpMs),
      fileBaselineMs,
      ratio: findTaskMs / fileBaselineMs,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function largeBodies(options: { tasks: number; runs: number }): Promise<LargeBodiesResult> {
  const imageBytes = 60_000;
  log(`large bodies: ${options.tasks} image-to-image tasks with ${String(imageBytes)}-byte base64 inputs`);
  const shared = images(10, imageBytes);
  const sqliteShared = await sqliteCorpus(options.tasks, shared);
  const sqliteUnique = await sqliteCorpus(options.tasks, images(options.tasks, imageBytes));
  const postgresShared = await postgresCorpus(options.tasks, shared);
  log('large bodies: recall of a 30 MiB request');
  return { sqliteShared, sqliteUnique, postgresShared, recall: await recall(options.runs) };
}
