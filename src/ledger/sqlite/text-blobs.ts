// The blob table of texts stored out of line (out-of-line.ts, migration 12) on SQLite. Every
// method runs inside a committer write (or a plain read): one writer at a time, so a blob and
// its references never race.

import { blobPiece, type TextBlob } from '../out-of-line.js';
import type { SqliteDatabase } from './database.js';

export class SqliteTextBlobs {
  private readonly insertBlob;
  private readonly insertRef;
  private readonly selectBlob;
  private readonly deleteRefs;
  private readonly deleteOrphans;

  constructor(db: SqliteDatabase) {
    this.insertBlob = db.prepare(
      'INSERT INTO text_blobs (hash, encoding, bytes) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING',
    );
    this.insertRef = db.prepare(
      'INSERT INTO text_blob_refs (org_id, task_uuid, hash) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    );
    this.selectBlob = db.prepare<[string], { encoding: number; bytes: Uint8Array }>(
      'SELECT encoding, bytes FROM text_blobs WHERE hash = ?',
    );
    this.deleteRefs = db
      .prepare<[string, string], string>(
        'DELETE FROM text_blob_refs WHERE org_id = ? AND task_uuid IN (SELECT value FROM json_each(?)) RETURNING hash',
      )
      .pluck();
    this.deleteOrphans = db.prepare(
      `DELETE FROM text_blobs WHERE hash IN (SELECT value FROM json_each(?))
         AND NOT EXISTS (SELECT 1 FROM text_blob_refs r WHERE r.hash = text_blobs.hash)`,
    );
  }

  /** Stores the blobs (those not there yet) and records that the task holds them. */
  hold(orgId: string, taskUUID: string, blobs: readonly TextBlob[]): void {
    for (const blob of blobs) {
      this.insertBlob.run(blob.hash, blob.encoding, blob.bytes);
      this.insertRef.run(orgId, taskUUID, blob.hash);
    }
  }

  /** The text piece of a blob; throws when it is missing (the ledger was damaged). */
  readonly pieceOf = (hash: string): string => {
    const row = this.selectBlob.get(hash);
    if (!row) throw new Error(`text blob ${hash} is missing`);
    return blobPiece(row.encoding, row.bytes);
  };

  /** The tasks no longer hold their blobs; blobs no other task holds are removed. Returns how many. */
  release(orgId: string, taskUUIDs: readonly string[]): number {
    const hashes = this.deleteRefs.all(orgId, JSON.stringify(taskUUIDs));
    if (hashes.length === 0) return 0;
    return this.deleteOrphans.run(JSON.stringify([...new Set(hashes)])).changes;
  }
}
