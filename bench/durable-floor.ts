// The least a durable recorder must do, for the floor rows of the wire-speed figures: one SQLite
// table (WAL) written through runtrail's own group committer (one transaction per batch, the
// log fsynced on the thread pool, each caller answered once its write is durable), with none of
// the protocol work around it. bench/bare-durable-server.ts and bench/bare-proxy.ts use it.

import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GroupCommitter } from '../src/ledger/sqlite/database.js';

export interface DurableLog {
  /** Stores the request text of a task; settles once durable. */
  recordRequest(taskUUID: string, requestText: string): Promise<void>;
  /** Stores the response text of a task recorded before; settles once durable. */
  recordResponse(taskUUID: string, responseText: string): Promise<void>;
  /** Request and response of a task in one write; settles once durable. */
  recordBoth(taskUUID: string, requestText: string, responseText: string): Promise<void>;
  close(): void;
}

export function openDurableLog(): DurableLog {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-floor-'));
  const db = new Database(join(dir, 'floor.db'));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE tasks (task_uuid TEXT PRIMARY KEY, request_text TEXT NOT NULL, response_text TEXT)');
  const committer = new GroupCommitter(db);
  const insert = db.prepare('INSERT INTO tasks (task_uuid, request_text, response_text) VALUES (?, ?, ?)');
  const update = db.prepare('UPDATE tasks SET response_text = ? WHERE task_uuid = ?');
  return {
    recordRequest: (uuid, request) => committer.write(() => void insert.run(uuid, request, null)),
    recordResponse: (uuid, response) => committer.write(() => void update.run(response, uuid)),
    recordBoth: (uuid, request, response) => committer.write(() => void insert.run(uuid, request, response)),
    close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The taskUUID an answer template carries where each answer puts its own. */
const TEMPLATE_UUID = '00000000-0000-4000-8000-000000000000';

/**
 * runtrail's own answer to `task` (one task object, JSON text) as a template file for the floor
 * servers, so that a floor records and sends answers of the same bytes as runtrail does (a
 * modelSearch answer carries each model's validation rules: some kilobytes). Returns its path.
 */
export async function answerTemplate(
  server: { post: (body: string) => Promise<{ text: string }> },
  task: (taskUUID: string) => string,
): Promise<string> {
  const taskUUID = randomUUID();
  const { text } = await server.post(`[${task(taskUUID)}]`);
  const file = join(mkdtempSync(join(tmpdir(), 'runtrail-answer-')), 'answer.json');
  writeFileSync(file, text.split(taskUUID).join(TEMPLATE_UUID));
  return file;
}

/** The answer for one task from a template file written by answerTemplate. */
export function answerFrom(templateFile: string): (taskUUID: string) => string {
  const parts = readFileSync(templateFile, 'utf8').split(TEMPLATE_UUID);
  return (taskUUID) => parts.join(taskUUID);
}
