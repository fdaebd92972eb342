// Where produced and uploaded images live, behind one interface with two backends: a local folder
// (RUNTRAIL_MEDIA_DIR, the default; folder-store.ts) and S3-compatible object storage
// (RUNTRAIL_MEDIA_URL=s3://bucket/prefix; s3-store.ts). Either way an image is stored, and its
// write confirmed, before the task naming it completes, so a URL handed to a caller never points
// at nothing; a write that fails leaves nothing behind and the caller gets serviceUnavailable.
// URLs carry a random access token stored with the media row: knowing an imageUUID is not enough
// to fetch the image. Serving (with byte ranges) is in src/transport/media-route.ts.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { MediaRecord } from '../ledger/types.js';

export type MediaFormat = MediaRecord['format'];
export type ImageFormat = Extract<MediaFormat, 'jpg' | 'png' | 'webp' | 'svg'>;
export type AudioFormat = Extract<MediaFormat, 'mp3' | 'wav' | 'flac' | 'ogg'>;
export type VideoFormat = Extract<MediaFormat, 'mp4' | 'webm' | 'mov'>;

/** The Content-Type each stored format is served with (the one place a new media format is added). */
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

/** Inclusive byte offsets of a part of a stored object. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface MediaStore {
  /** Base of produced media URLs; set once the server knows the port it listens on. */
  publicUrl: string;
  /** What the store is, for logs and the CLI (`folder /path` or `s3://bucket/prefix`). */
  readonly description: string;
  /** Fails with a message naming what is wrong (unreachable, refused credentials, no bucket): checked at start. */
  check(): Promise<void>;
  /** Fails when the store cannot be reached now (the health check). */
  probe(): Promise<void>;
  /** Stores the image, waits until the store has confirmed the write, and returns the record to commit with the task. */
  save(
    orgId: string,
    taskUUID: string | null,
    image: { data: Buffer; format: MediaFormat; width: number; height: number },
  ): Promise<MediaRecord>;
  /** Stores the file of an imported media record durably (an existing object is left as it is). */
  restore(record: MediaRecord, data: Buffer): Promise<void>;
  /** Removes the object of a deleted media record; one already gone is fine. */
  remove(record: MediaRecord): Promise<void>;
  /** The whole object; MediaMissingError when it is not there. */
  read(record: MediaRecord): Promise<Buffer>;
  /** A stream of the object's bytes (`range` inclusive, within record.bytes); MediaMissingError when it is not there. */
  stream(record: MediaRecord, range?: ByteRange): Promise<Readable>;
  /** A short-lived URL the object can be fetched from directly, or undefined when this store has none. */
  presignedUrl(record: MediaRecord, expiresInSeconds: number): Promise<string | undefined>;
  /** Where the object is (a file path or an s3:// URL), for the CLI. */
  locationOf(record: MediaRecord): string;
  urlOf(record: MediaRecord): string;
  /** Parses a URL produced by urlOf (on this server), or returns undefined. */
  parseOwnUrl(url: string): { accessToken: string; mediaUUID: string } | undefined;
  close(): Promise<void>;
}

/** The store holds no object for a media row (deleted by hand, or lost). */
export class MediaMissingError extends Error {
  constructor(what: string, cause?: unknown) {
    super(`media object ${what} is missing`, { cause });
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FORMATS = Object.keys(CONTENT_TYPES).join('|');

/** The object's name in either store: `<mediaUUID>.<format>`. */
export function objectName(mediaUUID: string, format: MediaFormat): string {
  return `${mediaUUID}.${format}`;
}

/** The record of a new object: a fresh UUID and access token (the caller writes the bytes under it). */
export function newMediaRecord(
  orgId: string,
  taskUUID: string | null,
  file: { data: Buffer; format: MediaFormat; width: number; height: number },
): MediaRecord {
  return {
    mediaUUID: randomUUID(),
    orgId,
    taskUUID,
    accessToken: randomBytes(16).toString('base64url'),
    format: file.format,
    width: file.width,
    height: file.height,
    bytes: file.data.length,
    createdAt: Date.now(),
    // The ledger's chain covers the file through this hash (docs/ledger-integrity.md).
    sha256: createHash('sha256').update(file.data).digest('hex'),
  };
}

/** Refuses an imported record whose UUID or format could not be an object name of ours (it comes from an export file). */
export function checkImportedRecord(record: MediaRecord, data: Buffer): void {
  if (!UUID.test(record.mediaUUID) || !(record.format in CONTENT_TYPES)) {
    throw new Error(`invalid media record ${JSON.stringify(record.mediaUUID)}.${record.format}`);
  }
  // Served with Content-Length from the record: the two must agree.
  if (data.length !== record.bytes)
    throw new Error(`media ${record.mediaUUID}: the record says ${record.bytes} bytes, the data has ${data.length}`);
}

/** The media URL shape both stores share: `<public URL>/media/<token>/<uuid>.<format>`. */
export abstract class MediaUrls {
  publicUrl = '';

  urlOf(record: MediaRecord): string {
    return `${this.publicUrl}/media/${record.accessToken}/${objectName(record.mediaUUID, record.format)}`;
  }

  parseOwnUrl(url: string): { accessToken: string; mediaUUID: string } | undefined {
    if (!url.startsWith(`${this.publicUrl}/media/`)) return undefined;
    const m = new RegExp(`^/media/([A-Za-z0-9_-]+)/([0-9a-fA-F-]{36})\\.(${FORMATS})$`).exec(
      url.slice(this.publicUrl.length),
    );
    return m?.[1] !== undefined && m[2] !== undefined ? { accessToken: m[1], mediaUUID: m[2] } : undefined;
  }
}

/** `<uuid>.<format>` of a media URL path segment, when it is one. */
export function parseObjectName(file: string): { mediaUUID: string; format: MediaFormat } | undefined {
  const m = new RegExp(`^([0-9a-fA-F-]{36})\\.(${FORMATS})$`).exec(file);
  return m?.[1] !== undefined && m[2] !== undefined ? { mediaUUID: m[1], format: m[2] as MediaFormat } : undefined;
}
