// The blob table of texts stored out of line (out-of-line.ts, migration 12) on PostgreSQL,
// shared by replicas writing at once. A task holds a blob by upserting it (ON CONFLICT DO
// UPDATE locks an existing row until the holder commits) before inserting its reference; a
// deletion locks the blobs it may remove (FOR UPDATE, in hash order like the holders) and only
// then, in a statement of its own and so with a fresh snapshot, removes those no reference
// names. Either the holder's reference is visible to that statement, or the holder's upsert
// comes after the deletion and inserts the blob again.

import type pg from 'pg';
import { blobPiece, type TextBlob } from '../out-of-line.js';
import { rowBlobHashes, taskFromRow, type TaskRow } from '../rows.js';
import type { StoredTask } from '../types.js';

type Db = pg.Pool | pg.ClientBase;

/** Stores the blobs (those not there yet) and records that the task holds them; run inside a transaction. */
export async function holdBlobs(
  client: Db,
  orgId: string,
  taskUUID: string,
  blobs: readonly TextBlob[],
): Promise<void> {
  for (const blob of [...blobs].sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0))) {
    await client.query(
      `INSERT INTO text_blobs (hash, encoding, bytes) VALUES ($1, $2, $3)
       ON CONFLICT (hash) DO UPDATE SET encoding = text_blobs.encoding`,
      [blob.hash, blob.encoding, blob.bytes],
    );
    await client.query(
      'INSERT INTO text_blob_refs (org_id, task_uuid, hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [orgId, taskUUID, blob.hash],
    );
  }
}

/** The tasks no longer hold their blobs; blobs no other task holds are removed (inside a transaction). Returns how many. */
export async function releaseBlobs(
  client: pg.PoolClient,
  orgId: string,
  taskUUIDs: readonly string[],
): Promise<number> {
  const { rows } = await client.query<{ hash: string }>(
    'DELETE FROM text_blob_refs WHERE org_id = $1 AND task_uuid = ANY($2::text[]) RETURNING hash',
    [orgId, taskUUIDs],
  );
  if (rows.length === 0) return 0;
  const hashes = [...new Set(rows.map((r) => r.hash))].sort();
  await client.query('SELECT hash FROM text_blobs WHERE hash = ANY($1::text[]) ORDER BY hash FOR UPDATE', [hashes]);
  const removed = await client.query(
    `DELETE FROM text_blobs b WHERE b.hash = ANY($1::text[])
       AND NOT EXISTS (SELECT 1 FROM text_blob_refs r WHERE r.hash = b.hash)`,
    [hashes],
  );
  return removed.rowCount ?? 0;
}

/**
 * Task rows as tasks, their texts whole. The blobs of texts stored out of line are read one at
 * a time and kept only as the text pieces they decode to, so a large text is held once.
 */
export async function tasksFromRows(db: Db, rows: readonly TaskRow[]): Promise<StoredTask[]> {
  const tasks: StoredTask[] = [];
  for (const row of rows) {
    const pieces = new Map<string, string>();
    for (const hash of rowBlobHashes(row)) {
      const { rows: found } = await db.query<{ encoding: number; bytes: Buffer }>(
        'SELECT encoding, bytes FROM text_blobs WHERE hash = $1',
        [hash],
      );
      if (!found[0]) throw new Error(`text blob ${hash} is missing`);
      pieces.set(hash, blobPiece(found[0].encoding, found[0].bytes));
    }
    tasks.push(
      taskFromRow(row, (hash) => {
        const piece = pieces.get(hash);
        if (piece === undefined) throw new Error(`text blob ${hash} is missing`);
        return piece;
      }),
    );
  }
  return tasks;
}

/** Blobs and the bytes they hold (bench, tests). */
export async function blobTotals(db: Db): Promise<{ blobs: number; bytes: number }> {
  const { rows } = await db.query<{ blobs: string; bytes: string }>(
    'SELECT count(*) AS blobs, coalesce(sum(octet_length(bytes)), 0) AS bytes FROM text_blobs',
  );
  return { blobs: Number(rows[0]?.blobs ?? 0), bytes: Number(rows[0]?.bytes ?? 0) };
}
