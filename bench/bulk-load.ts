// A large ledger for a benchmark, fast: one real task through the server as the template, then
// copies of it written straight through the ledger's batch import path (the one `runtrail tasks import`
// uses), each with its own taskUUID, prompt and time, with the server stopped (a SQLite data
// folder has one writer), which then starts again on them.

import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { hashApiKey } from '../src/accounts/api-keys.js';
import { openStorage } from '../src/ledger/open-storage.js';
import type { Storage, StoredTask, TaskWithMedia } from '../src/ledger/types.js';
import { startServer, type BenchServer } from './bench-server.js';

/** Records `count` copies of a 64×64 imageInference task under `server`'s key, task i with the prompt `prompt(i)`. */
export async function bulkLoad(
  server: BenchServer,
  count: number,
  prompt: (i: number) => string,
  onProgress?: (done: number) => void,
  /** The PostgreSQL ledger `server` was started on (its DATABASE_URL); SQLite in its data folder when absent. */
  databaseUrl?: string,
): Promise<{ server: BenchServer; cleanup: () => Promise<void> }> {
  const templateUUID = randomUUID();
  const reply = await server.post([
    {
      taskType: 'imageInference',
      taskUUID: templateUUID,
      model: 'runtrail:procedural@plasma-1',
      positivePrompt: 'template prompt',
      width: 64,
      height: 64,
    },
  ]);
  if (reply.status !== 200) throw new Error(`template task failed: ${reply.text}`);
  await server.stop({ keepData: true });
  const storage = await openStorage({ dataDir: server.dataDir, databaseUrl });
  try {
    const org = await storage.accounts.findOrganizationByKeyHash(hashApiKey(server.key));
    if (!org) throw new Error('the server key has no organization');
    const template = await storage.ledger.findTask(org.id, templateUUID);
    if (!template?.responseText) throw new Error('template task not found');
    await writeCopies(storage, template, count, prompt, onProgress);
  } finally {
    await storage.close();
  }
  const again = await startServer({
    dataDir: server.dataDir,
    key: server.key,
    env: databaseUrl === undefined ? {} : { DATABASE_URL: databaseUrl },
  });
  return {
    server: again,
    cleanup: async () => {
      await again.stop();
      rmSync(server.dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes `count` copies of a finished `template` task through the ledger's batch import
 * (importTasks), each with its own taskUUID and image UUID, task i with the prompt `prompt(i)` (in
 * place of the template's "template prompt"), one millisecond apart and ending before the
 * template. Shared with the tests' large ledgers (test/helpers/bulk-ledger.ts).
 */
export async function writeCopies(
  storage: Storage,
  template: StoredTask,
  count: number,
  prompt: (i: number) => string,
  onProgress?: (done: number) => void,
  /**
   * Tasks per importTasks call (one transaction). Large batches commit less often: on SQLite a
   * commit writes every index page its random taskUUIDs touched, and 10 000 cost about a fifth
   * less CPU per task than 2 000.
   */
  batchSize = 10_000,
): Promise<void> {
  const responseText = template.responseText;
  if (responseText === null) throw new Error('the template task has not finished');
  // The template's image UUID, replaced as a plain string (a regular expression per copy was 3 % of the load's CPU).
  const imageUUID = /[0-9a-f-]{36}(?=\.jpg)/.exec(responseText)?.[0];
  const copy = (i: number): TaskWithMedia => {
    const taskUUID = randomUUID();
    const response =
      imageUUID === undefined ? responseText : responseText.replace(`${imageUUID}.jpg`, `${randomUUID()}.jpg`);
    return {
      task: {
        ...template,
        taskUUID,
        requestText: template.requestText.replaceAll(template.taskUUID, taskUUID).replace('template prompt', prompt(i)),
        responseText: response.replaceAll(template.taskUUID, taskUUID),
        createdAt: template.createdAt - count + i,
        completedAt: template.createdAt - count + i + 1,
      },
      media: [],
    };
  };
  // Two batches in flight: the next is made while the last one commits (and, on SQLite, while
  // its log is synced).
  let writing: Promise<unknown> = Promise.resolve();
  for (let done = 0; done < count;) {
    const batch: TaskWithMedia[] = [];
    for (; batch.length < batchSize && done < count; done++) batch.push(copy(done));
    const written = done;
    const previous = writing;
    writing = Promise.all([previous, storage.ledger.importTasks(batch)]).then(() => onProgress?.(written));
    await previous;
  }
  await writing;
}
