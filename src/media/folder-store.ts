// The media folder backend (RUNTRAIL_MEDIA_DIR, the default). Files are fsynced before their task
// completes, and a write that fails (a full or failing disk) leaves no file behind: the caller
// gets serviceUnavailable, never a URL to a truncated image.

import { mkdirSync } from 'node:fs';
import { access, constants, open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { storageUnavailable } from '../protocol/errors.js';
import type { MediaRecord } from '../ledger/types.js';
import {
  checkImportedRecord,
  newMediaRecord,
  MediaMissingError,
  MediaUrls,
  objectName,
  type ByteRange,
  type MediaFormat,
  type MediaStore,
} from './media-store.js';

export class FolderMediaStore extends MediaUrls implements MediaStore {
  readonly description: string;

  constructor(private readonly dir: string) {
    super();
    mkdirSync(dir, { recursive: true });
    this.description = `folder ${dir}`;
  }

  async check(): Promise<void> {
    await this.probe();
  }

  async probe(): Promise<void> {
    await access(this.dir, constants.W_OK);
  }

  async save(
    orgId: string,
    taskUUID: string | null,
    image: { data: Buffer; format: MediaFormat; width: number; height: number },
  ): Promise<MediaRecord> {
    const record = newMediaRecord(orgId, taskUUID, image);
    await writeWhole(this.pathOf(record.mediaUUID, image.format), image.data);
    return record;
  }

  async restore(record: MediaRecord, data: Buffer): Promise<void> {
    checkImportedRecord(record, data);
    try {
      await writeWhole(this.pathOf(record.mediaUUID, record.format), data);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }

  async remove(record: MediaRecord): Promise<void> {
    try {
      await unlink(this.pathOf(record.mediaUUID, record.format));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  async read(record: MediaRecord): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(record.mediaUUID, record.format));
    } catch (err) {
      throw missingOr(err, this.locationOf(record));
    }
  }

  async stream(record: MediaRecord, range?: ByteRange): Promise<Readable> {
    // Opened first, so a missing file is an error here and not one in the middle of a response.
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(record.mediaUUID, record.format), 'r');
    } catch (err) {
      throw missingOr(err, this.locationOf(record));
    }
    // The stream closes the handle when it ends or is destroyed.
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  presignedUrl(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  locationOf(record: MediaRecord): string {
    return this.pathOf(record.mediaUUID, record.format);
  }

  pathOf(mediaUUID: string, format: MediaFormat): string {
    return join(this.dir, objectName(mediaUUID, format));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function missingOr(err: unknown, where: string): unknown {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT' ? new MediaMissingError(where, err) : err;
}

/** Error codes that mean the media folder cannot take files now (full, over quota, failing, read-only, out of inodes). */
const UNAVAILABLE = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EFBIG']);

/**
 * Creates `path` (it must not exist), writes all of `data` and fsyncs it. On any failure the file
 * is removed again, so no partial file is ever left where a URL could point; a full or failing
 * disk becomes serviceUnavailable (nothing stored, retry later), the original error kept as cause.
 */
async function writeWhole(path: string, data: Buffer): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'wx');
  } catch (err) {
    throw unavailable(err);
  }
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw unavailable(err);
  }
  try {
    await handle.close();
  } catch (err) {
    await unlink(path).catch(() => undefined);
    throw unavailable(err);
  }
}

function unavailable(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === undefined || !UNAVAILABLE.has(code)) return err;
  return storageUnavailable(
    'The server cannot store images right now (its media storage is full or failing), so the image was not stored. Retry later.',
    err,
  );
}
