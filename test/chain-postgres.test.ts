// The ledger integrity contract (chain-contract.ts) on PostgreSQL: the server gets a schema of
// its own, and tampering goes straight to its tables.

import pg from 'pg';
import { chainContract } from './chain-contract.js';
import { dropSchemaOf, schemaDatabaseUrl } from './helpers/server.js';
import { postgresSuiteGate, uniqueSchema } from './helpers/postgres.js';
import { guardOpenHandles } from './helpers/open-handles.js';

async function query(url: string, statement: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let n = 0;
    const { rows } = await client.query<Record<string, unknown>>(
      statement.replace(/\?/g, () => `$${++n}`),
      params,
    );
    return rows;
  } finally {
    await client.end();
  }
}

if (await postgresSuiteGate('postgres ledger chain')) {
  chainContract({
    name: 'postgres',
    env: async () => ({ DATABASE_URL: await schemaDatabaseUrl(uniqueSchema()) }),
    sql: (_server, env, statement, params) => query(env['DATABASE_URL']!, statement, params),
    async swapEntries(_server, env, lane, a, b) {
      const where = 'org_id = ? AND lane = ?';
      for (const [from, to] of [
        [a, -1],
        [b, a],
        [-1, b],
      ])
        await query(env['DATABASE_URL']!, `UPDATE chain_entries SET seq = ${to} WHERE ${where} AND seq = ${from}`, [
          lane.orgId,
          lane.lane,
        ]);
    },
    async editRequestText(_server, env, taskUUID, edit) {
      const [row] = await query(env['DATABASE_URL']!, 'SELECT request_text FROM tasks WHERE task_uuid = ?', [taskUUID]);
      await query(env['DATABASE_URL']!, 'UPDATE tasks SET request_text = ? WHERE task_uuid = ?', [
        edit(String(row!['request_text'])),
        taskUUID,
      ]);
    },
    dispose: (env) => dropSchemaOf(env['DATABASE_URL']!),
  });
}

guardOpenHandles();
