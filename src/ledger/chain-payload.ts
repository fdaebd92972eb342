// What each chain entry covers, as canonical JSON text (docs/ledger-integrity.md). The texts of a
// task (request, response, result items) enter as sha256 of their exact UTF-8 bytes, as the
// ledger interface hands them out, whatever the storage layout underneath (plain, packed, or
// bodies kept elsewhere); small fields (status, times, cost) enter as they are. Writers and
// verifiers build payloads with these same functions, so "what differs" is a field-by-field
// comparison of two payloads. The key order is fixed by the object literals below.

import { hash } from 'node:crypto';
import type { MediaRecord, ResultItem, StoredTask, TaskCompletion } from './types.js';
import type { ChainEntryKind, DeletionReason } from './chain-types.js';

/** The previous hash of a lane's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

export function sha256Hex(data: string | Uint8Array): string {
  // The one-shot form: a third of the cost of createHash() for the short texts most entries hash.
  return hash('sha256', data, 'hex');
}

/** The hash of an entry: it covers the previous entry's hash and this entry's payload. */
export function entryHash(prevHash: string, payload: string): string {
  return sha256Hex(`${prevHash}\n${payload}`);
}

/** A payload ready to append: its kind and task beside the JSON text. */
export interface EntryDraft {
  orgId: string;
  taskUUID: string;
  kind: ChainEntryKind;
  recordedAt: number;
  payload: string;
}

/**
 * A draft whose payload may be built when the entry is written: the SQLite writer writes a
 * batch's entries together at its end and builds their payloads there, in one loop.
 */
export type LaterDraft = Omit<EntryDraft, 'payload'> & { payload: string | (() => string) };

/** The fields of a task fixed when it is recorded. */
export type RecordedFields = Pick<
  StoredTask,
  'orgId' | 'taskUUID' | 'taskType' | 'requestText' | 'model' | 'transport' | 'createdAt'
>;

/** The fields a completion sets. */
export type CompletedFields = Pick<TaskCompletion, 'status' | 'cost' | 'errorCode' | 'engine'> & {
  responseText: string | null;
  completedAt: number | null;
  media: readonly MediaRecord[];
};

const V = 1;

function mediaHashes(media: readonly MediaRecord[]): { mediaUUID: string; bytes: number; sha256: string | null }[] {
  return media.map((m) => ({ mediaUUID: m.mediaUUID.toLowerCase(), bytes: m.bytes, sha256: m.sha256 ?? null }));
}

// The payloads are written out as text, key by key, rather than as objects given to
// JSON.stringify: an entry's object, spread together from its parts, cost the write path more than
// hashing the request and response texts it names (docs/performance.md). The text is the one
// JSON.stringify gives for that object, byte for byte (test/chain-payload-text.test.ts compares
// them over random fields); a field the fast form does not cover (undefined, an object) takes the
// object path, so an odd value changes speed, never the bytes.

type Scalar = string | number | null;

/** Strings, numbers and null: the values the key-by-key text writes. */
function isScalar(x: unknown): x is Scalar {
  return typeof x === 'string' || typeof x === 'number' || x === null;
}

/** Characters JSON.stringify writes escaped: quote, backslash, controls, and any surrogate (a lone one is escaped). */
// eslint-disable-next-line no-control-regex -- the control characters are what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A value as JSON.stringify writes it inside an object (a non-finite number is null). */
function json(x: Scalar): string {
  // Most fields are short plain words: quoted as they are, a third of JSON.stringify's cost.
  if (typeof x === 'string') return NEEDS_ESCAPE.test(x) ? JSON.stringify(x) : `"${x}"`;
  if (typeof x === 'number') return Number.isFinite(x) ? String(x) : 'null';
  return 'null';
}

const mediaText = (media: readonly MediaRecord[]) => (media.length === 0 ? '[]' : JSON.stringify(mediaHashes(media)));

function recordedScalars(t: RecordedFields): boolean {
  return isScalar(t.taskType) && isScalar(t.model) && isScalar(t.transport) && isScalar(t.createdAt);
}
function completedScalars(c: CompletedFields): boolean {
  return (
    isScalar(c.status) && isScalar(c.completedAt) && isScalar(c.cost) && isScalar(c.errorCode) && isScalar(c.engine)
  );
}

// The fields each kind covers, in their fixed order (a payload's text is what its hash covers).
const recordedText = (t: RecordedFields) =>
  `"taskType":${json(t.taskType)},"model":${json(t.model)},"transport":${json(t.transport)},` +
  `"createdAt":${json(t.createdAt)},"request":"${sha256Hex(t.requestText)}"`;
const completedText = (c: CompletedFields) =>
  `"status":${json(c.status)},"completedAt":${json(c.completedAt)},"cost":${json(c.cost)},` +
  `"errorCode":${json(c.errorCode)},"engine":${json(c.engine)},` +
  `"response":${c.responseText === null ? 'null' : `"${sha256Hex(c.responseText)}"`},"media":${mediaText(c.media)}`;

// The same fields as objects: the path for values recordedScalars / completedScalars turn away.
const recordedPart = (t: RecordedFields) => ({
  taskType: t.taskType,
  model: t.model,
  transport: t.transport,
  createdAt: t.createdAt,
  request: sha256Hex(t.requestText),
});
const completedPart = (c: CompletedFields) => ({
  status: c.status,
  completedAt: c.completedAt,
  cost: c.cost,
  errorCode: c.errorCode,
  engine: c.engine,
  response: c.responseText === null ? null : sha256Hex(c.responseText),
  media: mediaHashes(c.media),
});

/** The text every payload starts with: its version, kind and task. */
const head = (kind: ChainEntryKind, taskUUID: string) =>
  `{"v":${V},"kind":"${kind}","taskUUID":${json(taskUUID.toLowerCase())}`;

export function recordPayload(t: RecordedFields): string {
  if (!recordedScalars(t))
    return JSON.stringify({ v: V, kind: 'record', taskUUID: t.taskUUID.toLowerCase(), ...recordedPart(t) });
  return `${head('record', t.taskUUID)},${recordedText(t)}}`;
}

export function completePayload(taskUUID: string, c: CompletedFields): string {
  if (!completedScalars(c))
    return JSON.stringify({ v: V, kind: 'complete', taskUUID: taskUUID.toLowerCase(), ...completedPart(c) });
  return `${head('complete', taskUUID)},${completedText(c)}}`;
}

/**
 * A task recorded finished in one write: the fields of its record and of its completion in one
 * payload, in that order (one entry instead of two: the chain's cost on the write path).
 */
export function finishedPayload(t: RecordedFields, c: CompletedFields): string {
  if (!recordedScalars(t) || !completedScalars(c))
    return JSON.stringify({
      v: V,
      kind: 'finished',
      taskUUID: t.taskUUID.toLowerCase(),
      ...recordedPart(t),
      ...completedPart(c),
    });
  return `${head('finished', t.taskUUID)},${recordedText(t)},${completedText(c)}}`;
}

export function itemPayload(taskUUID: string, item: ResultItem, media: readonly MediaRecord[]): string {
  return JSON.stringify({
    v: V,
    kind: 'item',
    taskUUID: taskUUID.toLowerCase(),
    index: item.index,
    status: item.status,
    text: sha256Hex(item.text),
    media: mediaHashes(media),
  });
}

/** `removed` covers the hashes of every earlier entry of the task: the receipt proves which entries the deletion ended. */
export function tombstonePayload(taskUUID: string, deletedAt: number, reason: DeletionReason, removed: string): string {
  return JSON.stringify({ v: V, kind: 'tombstone', taskUUID: taskUUID.toLowerCase(), deletedAt, reason, removed });
}

export function mediaDeletedPayload(media: MediaRecord, deletedAt: number): string {
  return JSON.stringify({
    v: V,
    kind: 'media-deleted',
    taskUUID: media.taskUUID?.toLowerCase() ?? null,
    mediaUUID: media.mediaUUID.toLowerCase(),
    sha256: media.sha256 ?? null,
    deletedAt,
  });
}

/** The `removed` value of a tombstone: sha256 over the task's earlier entry hashes, oldest first, one per line. */
export function removedHash(entryHashes: readonly string[]): string {
  return sha256Hex(entryHashes.join('\n'));
}

/** The entry a newly recorded task gets: its record, or, when it was recorded finished, one `finished` entry. */
export function draftForNewTask(t: RecordedFields, done?: CompletedFields): EntryDraft {
  return builtNow(laterDraftForNewTask(t, done));
}

/** A draft with its payload built now. */
function builtNow(d: LaterDraft & { payload: () => string }): EntryDraft {
  return { ...d, payload: d.payload() };
}

/** draftForNewTask, its payload built when the entry is written. */
export function laterDraftForNewTask(
  t: RecordedFields,
  done?: CompletedFields,
): LaterDraft & { payload: () => string } {
  // Plain literals: spreading a shared part into each cost about 3 µs a task (docs/performance.md).
  return done
    ? {
        orgId: t.orgId,
        taskUUID: t.taskUUID,
        recordedAt: t.createdAt,
        kind: 'finished',
        payload: () => finishedPayload(t, done),
      }
    : {
        orgId: t.orgId,
        taskUUID: t.taskUUID,
        recordedAt: t.createdAt,
        kind: 'record',
        payload: () => recordPayload(t),
      };
}

/** completionDraft, its payload built when the entry is written. */
export function laterCompletionDraft(c: TaskCompletion): LaterDraft & { payload: () => string } {
  return {
    orgId: c.orgId,
    taskUUID: c.taskUUID,
    kind: 'complete',
    recordedAt: c.completedAt,
    payload: () => completePayload(c.taskUUID, c),
  };
}

export function completionDraft(c: TaskCompletion): EntryDraft {
  return builtNow(laterCompletionDraft(c));
}

export function itemDraft(
  orgId: string,
  taskUUID: string,
  item: ResultItem,
  media: readonly MediaRecord[],
): EntryDraft {
  return { orgId, taskUUID, kind: 'item', recordedAt: Date.now(), payload: itemPayload(taskUUID, item, media) };
}

/** The completion part of a task recorded finished (recordFailedTask), for its chain entry; undefined while processing. */
export function finishedFields(
  done: { status: StoredTask['status'] } & Partial<Omit<TaskCompletion, 'orgId' | 'taskUUID' | 'status'>>,
): CompletedFields | undefined {
  if (done.status === 'processing') return undefined;
  return {
    status: done.status,
    responseText: done.responseText ?? null,
    cost: done.cost ?? null,
    errorCode: done.errorCode ?? null,
    engine: done.engine ?? null,
    completedAt: done.completedAt ?? null,
    media: done.media ?? [],
  };
}

/** The completion part of a stored (imported, or verified) task; undefined while it is processing. */
export function storedCompletion(task: StoredTask, media: readonly MediaRecord[]): CompletedFields | undefined {
  if (task.status === 'processing') return undefined;
  return {
    status: task.status,
    responseText: task.responseText,
    cost: task.cost,
    errorCode: task.errorCode,
    engine: task.engine,
    completedAt: task.completedAt,
    media,
  };
}
