// Where produced and uploaded images live: a local folder (RUNTRAIL_MEDIA_DIR). Files are
// fsynced before their task completes, so a URL handed to a caller never points at nothing, and a
// write that fails (a full or failing disk) leaves no file behind: the caller gets
// serviceUnavailable, never a URL to a truncated image. URLs carry a random access token stored
// with the media row: knowing an imageUUID is not enough to fetch the image.

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { storageUnavailable } from '../protocol/errors.js';
import type { MediaRecord } from '../ledger/types.js';

export type ImageFormat = MediaRecord['format'];

export const CONTENT_TYPES: Record<ImageFormat, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp', svg: 'image/svg+xml' };

/**
 * Headers for serving an SVG (vectorize's output): SVG is a document that could carry script or
 * load other resources. This policy lets it draw itself and nothing else, and `sandbox` gives it an
 * opaque origin even when opened directly, so an SVG URL can never act on the server's own origin.
 */
export const SVG_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
  'x-content-type-options': 'nosniff',
};

export class MediaStore {
  /** Set once the server knows the port it listens on. */
  publicUrl = '';

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Writes the file durably and returns the record to commit with the task. */
  async save(
    orgId: string,
    taskUUID: string | null,
    image: { data: Buffer; format: ImageFormat; width: number; height: number },
  ): Promise<MediaRecord> {
    const mediaUUID = randomUUID();
    await writeWhole(this.pathOf(mediaUUID, image.format), image.data);
    return {
      mediaUUID,
      orgId,
      taskUUID,
      accessToken: randomBytes(16).toString('base64url'),
      format: image.format,
      width: image.width,
      height: image.height,
      bytes: image.data.length,
      createdAt: Date.now(),
    };
  }

  /** Writes the file of an imported media record durably (an existing file is left as it is). */
  async restore(record: MediaRecord, data: Buffer): Promise<void> {
    // The record comes from an export file: its UUID and format become a file name.
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(record.mediaUUID) || !(record.format in CONTENT_TYPES)) {
      throw new Error(`invalid media record ${JSON.stringify(record.mediaUUID)}.${record.format}`);
    }
    try {
      await writeWhole(this.pathOf(record.mediaUUID, record.format), data);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }

  /** Removes the file of a deleted media record; a file already gone is fine. */
  async remove(record: MediaRecord): Promise<void> {
    try {
      await unlink(this.pathOf(record.mediaUUID, record.format));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  read(record: MediaRecord): Promise<Buffer> {
    return readFile(this.pathOf(record.mediaUUID, record.format));
  }

  pathOf(mediaUUID: string, format: ImageFormat): string {
    return join(this.dir, `${mediaUUID}.${format}`);
  }

  urlOf(record: MediaRecord): string {
    return `${this.publicUrl}/media/${record.accessToken}/${record.mediaUUID}.${record.format}`;
  }

  /** Parses a URL produced by urlOf (on this server), or returns undefined. */
  parseOwnUrl(url: string): { accessToken: string; mediaUUID: string } | undefined {
    if (!url.startsWith(`${this.publicUrl}/media/`)) return undefined;
    const m = /^\/media\/([A-Za-z0-9_-]+)\/([0-9a-fA-F-]{36})\.(jpg|png|webp|svg)$/.exec(url.slice(this.publicUrl.length));
    return m ? { accessToken: m[1]!, mediaUUID: m[2]! } : undefined;
  }
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
  return storageUnavailable('The server cannot store images right now (its media storage is full or failing), so the image was not stored. Retry later.', err);
}
