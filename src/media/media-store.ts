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

export type MediaFormat = MediaRecord['format'];
export type ImageFormat = Extract<MediaFormat, 'jpg' | 'png' | 'webp' | 'svg'>;
export type AudioFormat = Extract<MediaFormat, 'mp3' | 'wav' | 'flac' | 'ogg'>;
export type VideoFormat = Extract<MediaFormat, 'mp4' | 'webm' | 'mov'>;

export const CONTENT_TYPES: Record<MediaFormat, string> = {
  jpg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
};

/** True for the extensions media files are stored under. */
export function isMediaFormat(value: unknown): value is MediaFormat {
  return typeof value === 'string' && Object.hasOwn(CONTENT_TYPES, value);
}

/** A media URL's file part, `<mediaUUID>.<extension>`, for every extension above. */
export const MEDIA_FILE_PATTERN = new RegExp(`^([0-9a-fA-F-]{36})\\.(${Object.keys(CONTENT_TYPES).join('|')})$`);

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
    image: { data: Buffer; format: MediaFormat; width: number; height: number },
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
      throw new Error(`invalid media record ${JSON.stringify(record.mediaUUID)}.${String(record.format)}`);
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

  pathOf(mediaUUID: string, format: MediaFormat): string {
    return join(this.dir, `${mediaUUID}.${format}`);
  }

  urlOf(record: MediaRecord): string {
    return `${this.publicUrl}/media/${record.accessToken}/${record.mediaUUID}.${record.format}`;
  }

  /** Parses a URL produced by urlOf (on this server), or returns undefined. */
  parseOwnUrl(url: string): { accessToken: string; mediaUUID: string } | undefined {
    if (!url.startsWith(`${this.publicUrl}/media/`)) return undefined;
    const m = /^\/media\/([A-Za-z0-9_-]+)\/([^/]+)$/.exec(url.slice(this.publicUrl.length));
    const file = m ? MEDIA_FILE_PATTERN.exec(m[2]!) : null;
    return m && file ? { accessToken: m[1]!, mediaUUID: file[1]! } : undefined;
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
