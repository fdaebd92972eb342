// A large ledger, fast: one real task through the server as the template, then copies of it
// written straight through the ledger's batch import path (the one `runtrail tasks import` uses),
// each with its own taskUUID, prompt and time. The server must be stopped while this runs on
// SQLite (the folder has one writer); PostgreSQL could take both, but tests keep it the same.

import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { hashApiKey } from '../../src/accounts/api-keys.js';
import { openStorage } from '../../src/ledger/open-storage.js';
import { writeCopies } from '../../bench/bulk-load.js';
import { backendEnv, dropSchemaOf, startServer, type TestServer } from './server.js';

export interface BulkLedger {
  orgId: string;
  /** The server, started again on the loaded ledger. */
  server: TestServer;
  /** Stops the server and removes its data folder (and PostgreSQL schema). */
  cleanup: () => Promise<void>;
}

/**
 * Records `count` copies of a 128×128 imageInference task under `server`'s key, task i with the
 * prompt `prompt(i)`, one millisecond apart, and restarts the server on them.
 */
export async function bulkLoad(
  server: TestServer,
  count: number,
  prompt: (i: number) => string,
  env: Record<string, string> = {},
  onProgress?: (done: number) => void,
): Promise<BulkLedger> {
  const templateUUID = randomUUID();
  const reply = await server.post([
    {
      taskType: 'imageInference',
      taskUUID: templateUUID,
      model: 'runware:101@1',
      positivePrompt: 'template prompt',
      width: 128,
      height: 128,
    },
  ]);
  if (reply.status !== 200) throw new Error(`template task failed: ${reply.text}`);
  // The schema of a server started with a DATABASE_URL of its own comes with `env`.
  const databaseUrl = env['DATABASE_URL'] ?? backendEnv(server.dataDir)['DATABASE_URL'];
  await server.stop({ keepData: true });
  const storage = await openStorage({ dataDir: server.dataDir, databaseUrl });
  let orgId: string;
  try {
    const org = await storage.accounts.findOrganizationByKeyHash(hashApiKey(server.key));
    if (!org) throw new Error('the server key has no organization');
    orgId = org.id;
    const template = await storage.ledger.findTask(org.id, templateUUID);
    if (!template?.responseText) throw new Error('template task not found');
    // Batches of 1 000: the tests' ledgers, a few thousand tasks, still take several.
    await writeCopies(storage, template, count, prompt, onProgress, 1000);
  } finally {
    await storage.close();
  }
  const again = await startServer({
    dataDir: server.dataDir,
    key: server.key,
    env: { ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ...env },
  });
  return {
    orgId,
    server: again,
    cleanup: async () => {
      await again.stop();
      rmSync(server.dataDir, { recursive: true, force: true });
      if (databaseUrl) await dropSchemaOf(databaseUrl);
    },
  };
}
