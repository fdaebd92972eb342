// The export format of `runtrail tasks export` / `import`: one NDJSON line per task with every
// stored field, the texts as JSON strings (which round-trip exactly), and its media (the files
// too, base64, with --with-media); and the media rows and files an imported task gets.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { MediaRecord, Storage, StoredTask } from '../ledger/types.js';
import type { OutputArchiveRecord } from '../ledger/archive-types.js';
import { MediaMissingError, type MediaStore } from '../media/media-store.js';
import { isCanonicalUuid } from '../protocol/uuid.js';

interface ExportedMedia {
  mediaUUID: string;
  accessToken: string;
  format: MediaRecord['format'];
  width: number;
  height: number;
  bytes: number;
  createdAt: number;
  /** sha256 of the file as the chain recorded it (docs/ledger-integrity.md); null for media older than the chain. */
  sha256: string | null;
  /** The file, base64, with --with-media. */
  data?: string;
}

export async function exportLine(
  task: StoredTask,
  files: MediaRecord[],
  media: MediaStore | undefined,
  archived: readonly OutputArchiveRecord[] = [],
) {
  const exported: ExportedMedia[] = [];
  for (const m of files) {
    const entry: ExportedMedia = {
      mediaUUID: m.mediaUUID,
      accessToken: m.accessToken,
      format: m.format,
      width: m.width,
      height: m.height,
      bytes: m.bytes,
      createdAt: m.createdAt,
      sha256: m.sha256 ?? null,
    };
    if (media) {
      try {
        entry.data = (await media.read(m)).toString('base64');
      } catch (err) {
        // A file already gone is exported without data; a store that fails stops the export.
        if (!(err instanceof MediaMissingError)) throw err;
      }
    }
    exported.push(entry);
  }
  return {
    taskUUID: task.taskUUID,
    taskType: task.taskType,
    status: task.status,
    model: task.model,
    transport: task.transport,
    engine: task.engine,
    cost: task.cost,
    errorCode: task.errorCode,
    createdAt: task.createdAt,
    completedAt: task.completedAt,
    requestText: task.requestText,
    responseText: task.responseText,
    // The id of the key the task came in with, on the exporting server (not a secret).
    apiKeyId: task.apiKeyId ?? null,
    // The task's own retention (X-Runtrail-Retention), only when it has one: an import keeps it.
    ...(task.expiresAt !== null && task.expiresAt !== undefined ? { expiresAt: task.expiresAt } : {}),
    media: exported,
    // Where each output of a forwarded task came from and what was kept: an archived copy is one
    // of the media above (its file embedded with --with-media).
    archivedOutputs: archived.map((a) => ({
      itemIndex: a.itemIndex,
      field: a.field,
      form: a.form,
      upstreamURL: a.sourceUrl,
      state: a.state,
      error: a.error,
      mediaUUID: a.mediaUUID,
      contentType: a.contentType,
      bytes: a.bytes,
      sha256: a.sha256,
    })),
  };
}

export function importLine(
  v: unknown,
  orgId: string,
): { task: StoredTask; media: { record: MediaRecord; data: Buffer | null }[] } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a task object');
  const o = v as Record<string, unknown>;
  const str = (k: string) => {
    if (typeof o[k] !== 'string') throw new Error(`'${k}' must be a string`);
    return o[k];
  };
  const strOrNull = (k: string) => (o[k] === null || o[k] === undefined ? null : str(k));
  const num = (rec: Record<string, unknown>, k: string) => {
    if (typeof rec[k] !== 'number' || !Number.isFinite(rec[k])) throw new Error(`'${k}' must be a number`);
    return rec[k];
  };
  const taskUUID = str('taskUUID');
  if (!isCanonicalUuid(taskUUID)) throw new Error(`'taskUUID' is not a UUID`);
  const status = str('status');
  if (status !== 'processing' && status !== 'success' && status !== 'error')
    throw new Error(`'status' must be processing, success or error`);
  const transport = str('transport');
  if (transport !== 'rest' && transport !== 'websocket') throw new Error(`'transport' must be rest or websocket`);
  const task: StoredTask = {
    orgId,
    taskUUID,
    taskType: str('taskType'),
    status,
    requestText: str('requestText'),
    responseText: strOrNull('responseText'),
    model: strOrNull('model'),
    transport,
    cost: o['cost'] === null || o['cost'] === undefined ? null : num(o, 'cost'),
    errorCode: strOrNull('errorCode'),
    engine: strOrNull('engine'),
    createdAt: num(o, 'createdAt'),
    completedAt: o['completedAt'] === null || o['completedAt'] === undefined ? null : num(o, 'completedAt'),
    apiKeyId: strOrNull('apiKeyId'),
    expiresAt: o['expiresAt'] === null || o['expiresAt'] === undefined ? null : num(o, 'expiresAt'),
  };
  const list = o['media'] ?? [];
  if (!Array.isArray(list)) throw new Error(`'media' must be an array`);
  const media = list.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) throw new Error('a media entry is not an object');
    const m = entry as Record<string, unknown>;
    const mediaUUID = m['mediaUUID'];
    const format = m['format'];
    if (typeof mediaUUID !== 'string' || !isCanonicalUuid(mediaUUID))
      throw new Error(`a media entry has no valid 'mediaUUID'`);
    if (format !== 'jpg' && format !== 'png' && format !== 'webp' && format !== 'svg')
      throw new Error(`a media entry has no valid 'format'`);
    if (typeof m['accessToken'] !== 'string' || !/^[A-Za-z0-9_-]+$/.test(m['accessToken']))
      throw new Error(`a media entry has no valid 'accessToken'`);
    const record: MediaRecord = {
      mediaUUID,
      orgId,
      taskUUID,
      accessToken: m['accessToken'],
      format,
      width: num(m, 'width'),
      height: num(m, 'height'),
      bytes: num(m, 'bytes'),
      createdAt: num(m, 'createdAt'),
    };
    return { record, data: typeof m['data'] === 'string' ? Buffer.from(m['data'], 'base64') : null };
  });
  return { task, media };
}

/**
 * The media rows and files an imported task gets. An image UUID names one image of one
 * organization on a server, so where the export's UUID is already taken here (the same task
 * imported into another organization of the same server) the file is copied under a new UUID
 * and access token: the target organization owns its copy, which outlives the original. The
 * stored response keeps naming the original URL, byte for byte. Files come from the export
 * (--with-media) or, failing that, from this server's own copy of the original.
 */
export async function mediaCopies(
  exported: readonly { record: MediaRecord; data: Buffer | null }[],
  orgId: string,
  storage: Storage,
  media: MediaStore,
): Promise<{ record: MediaRecord; data: Buffer }[]> {
  const copies: { record: MediaRecord; data: Buffer }[] = [];
  for (const m of exported) {
    const existing = await storage.ledger.findMediaForServing(m.record.mediaUUID);
    let data = m.data;
    if (data === null && existing) {
      data = await media.read(existing).catch((err: unknown) => {
        if (err instanceof MediaMissingError) return null;
        throw err;
      });
    }
    if (data === null) continue;
    if (existing && existing.orgId === orgId) continue;
    // The hash of the bytes restored here: this ledger's chain records the copy it holds.
    const sha256 = createHash('sha256').update(data).digest('hex');
    const record = existing
      ? { ...m.record, sha256, mediaUUID: randomUUID(), accessToken: randomBytes(16).toString('base64url') }
      : { ...m.record, sha256 };
    copies.push({ record, data });
  }
  return copies;
}
