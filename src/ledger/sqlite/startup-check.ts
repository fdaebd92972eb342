// Checks the SQLite database before a server starts on it, so that a damaged or lost database
// stops the start with a clear message instead of starting silently: a file that is not a
// SQLite database, one whose pages fail SQLite's quick_check, and an empty (zero-length,
// missing or table-less) database beside a media folder that holds images, which means the
// ledger those images belong to was lost or truncated (starting would create a new, empty one).

import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, opendirSync, readSync, statSync } from 'node:fs';

/** The database cannot be trusted; the message says what was found and what to do. */
export class DatabaseDamaged extends Error {}

const HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/** Throws DatabaseDamaged when the database file at `file` must not be started on (see above). */
export function checkDatabaseAtStart(file: string, mediaDir: string): void {
  const bytes = existsSync(file) ? statSync(file).size : undefined;
  if (bytes !== undefined && bytes > 0) {
    if (!hasSqliteHeader(file))
      throw new DatabaseDamaged(`${file} is not a SQLite database (its header is damaged). ${RESTORE}`);
    const problems = quickCheck(file);
    if (problems.length > 0)
      throw new DatabaseDamaged(
        `${file} is damaged (SQLite quick_check: ${problems.slice(0, 3).join('; ')}). ${RESTORE}`,
      );
    if (!holdsTables(file)) refuseIfMediaExists(file, mediaDir, 'holds no tables');
    return;
  }
  refuseIfMediaExists(file, mediaDir, bytes === 0 ? 'is empty (0 bytes)' : 'does not exist');
}

const RESTORE = 'Restore it from a backup (or move the data folder away to start afresh); the server did not start.';

function hasSqliteHeader(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(HEADER.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(HEADER);
  } finally {
    closeSync(fd);
  }
}

/** SQLite's quick_check (every page and index entry is well formed; cheaper than integrity_check): its complaints, none when sound. */
function quickCheck(file: string): string[] {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    const rows = db.pragma('quick_check') as { quick_check: string }[];
    return rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
  } catch (err) {
    // Opening or reading failed on the file itself (SQLITE_NOTADB, SQLITE_CORRUPT, …).
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^SQLITE_(NOTADB|CORRUPT)/.test(code)) return [(err as Error).message];
    throw err;
  } finally {
    db?.close();
  }
}

function holdsTables(file: string): boolean {
  const db = new Database(file, { fileMustExist: true, readonly: true });
  try {
    return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1`).get() !== undefined;
  } finally {
    db.close();
  }
}

function refuseIfMediaExists(file: string, mediaDir: string, state: string): void {
  if (!holdsImages(mediaDir)) return;
  throw new DatabaseDamaged(
    `${file} ${state}, but the media folder ${mediaDir} holds images of recorded tasks: the database they belong to was lost or truncated, ` +
      'and starting would serve an empty ledger. Restore runtrail.db from a backup; to start afresh on purpose, move the media folder away first. The server did not start.',
  );
}

/** Whether the folder holds at least one image file (stops at the first one). */
function holdsImages(dir: string): boolean {
  if (!existsSync(dir)) return false;
  const entries = opendirSync(dir);
  try {
    for (let e = entries.readSync(); e !== null; e = entries.readSync())
      if (e.isFile() && /\.(jpg|png|webp)$/.test(e.name)) return true;
    return false;
  } finally {
    entries.closeSync();
  }
}
