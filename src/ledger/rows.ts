// Row shapes shared by the SQL backends (same column names in SQLite and PostgreSQL) and their
// mapping to the domain types.

import type {
  ApiKeyInfo,
  DeliveryAttempt,
  LimitScope,
  DeliveryRecord,
  MediaRecord,
  NewDelivery,
  Organization,
  OrganizationRetention,
  PendingDelivery,
  ResultItem,
  StoredTask,
  UpstreamAccount,
  UpstreamExchange,
  UsageLimits,
} from './types.js';
import type { TaskLink } from './aggregate-types.js';
import { unpackTexts } from './packed-texts.js';
import { assembleText, blobHashes } from './out-of-line.js';

export interface TaskRow {
  org_id: string;
  task_uuid: string;
  task_type: string;
  status: StoredTask['status'];
  request_text: string | null;
  response_text: string | null;
  /** SQLite only (migration 6): a finished task's request and response, packed together. */
  packed_texts?: Uint8Array | null;
  model: string | null;
  transport: StoredTask['transport'];
  cost: number | null;
  error_code: string | null;
  engine: string | null;
  created_at: number;
  completed_at: number | null;
  /** Migration 10; undefined in rows selected without it. */
  api_key_id?: string | null;
  /** Migration 12: when the task's own retention ends (ms epoch); null when it has none. */
  expires_at?: number | string | null;
  /** Migration 12: a text stored out of line, as its manifest (out-of-line.ts); request_text / response_text then hold its searchable runs. */
  request_parts?: string | null;
  response_parts?: string | null;
}

export interface MediaRow {
  media_uuid: string;
  org_id: string;
  task_uuid: string | null;
  access_token: string;
  format: MediaRecord['format'];
  width: number;
  height: number;
  bytes: number;
  created_at: number;
  /** Migration 11. */
  sha256?: string | null;
}

export interface OrgRow {
  id: string;
  name: string;
  created_at: number;
}

export interface KeyRow {
  id: string;
  org_id: string;
  org_name: string;
  prefix: string;
  label: string | null;
  created_at: number;
  revoked_at: number | null;
}

/**
 * A task row as a task. A row with texts stored out of line needs `pieceOf`, which gives the text
 * piece of a blob hash (text-blobs.ts of the backend reads them).
 */
export const taskFromRow = (r: TaskRow, pieceOf?: (hash: string) => string): StoredTask => ({
  orgId: r.org_id,
  taskUUID: r.task_uuid,
  taskType: r.task_type,
  status: r.status,
  ...textsOf(r, pieceOf),
  model: r.model,
  transport: r.transport,
  cost: r.cost,
  errorCode: r.error_code,
  engine: r.engine,
  createdAt: r.created_at,
  completedAt: r.completed_at,
  // Only when recorded: tasks from before migration 10, and imported ones without it, have none.
  ...(r.api_key_id ? { apiKeyId: r.api_key_id } : {}),
  // PostgreSQL hands BIGINT over as a string.
  ...(r.expires_at !== null && r.expires_at !== undefined ? { expiresAt: Number(r.expires_at) } : {}),
});

function textsOf(r: TaskRow, pieceOf?: (hash: string) => string): { requestText: string; responseText: string | null } {
  if (r.packed_texts) return unpackTexts(r.packed_texts);
  if (r.request_text === null) throw new Error(`task ${r.task_uuid} has neither request text nor packed texts`);
  const whole = (parts: string) => {
    if (!pieceOf) throw new Error(`task ${r.task_uuid} has texts stored out of line and no reader for them`);
    return assembleText(parts, pieceOf);
  };
  return {
    requestText: r.request_parts ? whole(r.request_parts) : r.request_text,
    responseText: r.response_parts ? whole(r.response_parts) : r.response_text,
  };
}

/** The blob hashes a task row's texts name (none for a row whose texts are whole). */
export function rowBlobHashes(r: TaskRow): string[] {
  return [
    ...(r.request_parts ? blobHashes(r.request_parts) : []),
    ...(r.response_parts ? blobHashes(r.response_parts) : []),
  ];
}

export const mediaFromRow = (r: MediaRow): MediaRecord => ({
  mediaUUID: r.media_uuid,
  orgId: r.org_id,
  taskUUID: r.task_uuid,
  accessToken: r.access_token,
  format: r.format,
  width: r.width,
  height: r.height,
  bytes: r.bytes,
  createdAt: r.created_at,
  // Only when recorded: media written before migration 11 have none.
  ...(r.sha256 ? { sha256: r.sha256 } : {}),
});

export const orgFromRow = (r: OrgRow): Organization => ({ id: r.id, name: r.name, createdAt: r.created_at });

export interface OrgRetentionRow extends OrgRow {
  retention_days: number | null;
}

export const orgRetentionFromRow = (r: OrgRetentionRow): OrganizationRetention => ({
  ...orgFromRow(r),
  retentionDays: r.retention_days,
});

export const keyFromRow = (r: KeyRow): ApiKeyInfo => ({
  id: r.id,
  orgId: r.org_id,
  orgName: r.org_name,
  prefix: r.prefix,
  label: r.label,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

/** UUIDs are case-insensitive; the ledger keys them in lower case. */
export function uuidKey(uuid: string): string {
  return uuid.toLowerCase();
}

/** Columns of a key listing joined with its organization's name. */
export const KEY_COLUMNS = 'k.id, k.org_id, o.name AS org_name, k.prefix, k.label, k.created_at, k.revoked_at';

export interface ItemRow {
  item_index: number;
  status: ResultItem['status'];
  item_text: string;
}

export const itemFromRow = (r: ItemRow): ResultItem => ({ index: r.item_index, status: r.status, text: r.item_text });

export interface DeliveryRow {
  id: string;
  org_id: string;
  task_uuid: string;
  kind: NewDelivery['kind'];
  url: string;
  item_index: number;
  body: string | null;
  media_uuid: string | null;
  state: DeliveryRecord['state'];
  attempts: number;
  next_attempt_at: number | null;
  created_at: number;
  finished_at: number | null;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

const newDeliveryFromRow = (r: DeliveryRow): NewDelivery => ({
  id: r.id,
  orgId: r.org_id,
  taskUUID: r.task_uuid,
  kind: r.kind,
  url: r.url,
  itemIndex: r.item_index,
  body: r.body,
  mediaUUID: r.media_uuid,
  createdAt: r.created_at,
});

export const pendingDeliveryFromRow = (r: DeliveryRow): PendingDelivery => ({
  ...newDeliveryFromRow(r),
  attempts: r.attempts,
});

export const attemptFromRow = (r: AttemptRow): DeliveryAttempt => ({
  attempt: r.attempt,
  startedAt: r.started_at,
  statusCode: r.status_code,
  latencyMs: r.latency_ms,
  error: r.error,
});

/** Deliveries with their attempts, given both row sets (attempts in any order). */
export function deliveryRecords(rows: DeliveryRow[], attempts: AttemptRow[]): DeliveryRecord[] {
  const byId = new Map<string, DeliveryAttempt[]>();
  for (const a of attempts) {
    const list = byId.get(a.delivery_id) ?? [];
    list.push(attemptFromRow(a));
    byId.set(a.delivery_id, list);
  }
  return rows.map((r) => ({
    ...newDeliveryFromRow(r),
    state: r.state,
    attempts: (byId.get(r.id) ?? []).sort((x, y) => x.attempt - y.attempt),
    nextAttemptAt: r.state === 'pending' ? r.next_attempt_at : null,
    finishedAt: r.finished_at,
  }));
}

/** Column values of a new delivery row, in the order of DELIVERY_COLUMNS. */
export function deliveryValues(d: NewDelivery): unknown[] {
  return [
    d.id,
    d.orgId,
    uuidKey(d.taskUUID),
    d.kind,
    d.url,
    d.itemIndex,
    d.body,
    d.mediaUUID,
    'pending',
    0,
    d.createdAt,
    d.createdAt,
  ];
}

export const DELIVERY_COLUMNS =
  'id, org_id, task_uuid, kind, url, item_index, body, media_uuid, state, attempts, next_attempt_at, created_at';

export interface ExchangeRow {
  org_id: string;
  task_uuid: string;
  upstream_url: string;
  upstream_task_uuid: string;
  kind: string;
  http_status: number | null;
  reply_text: string | null;
  error: string | null;
  latency_ms: number;
  created_at: number;
}

/** Kinds an exchange row may hold (anything else reads as `task`, as rows written before the operator engines). */
const EXCHANGE_KINDS: ReadonlySet<string> = new Set([
  'task',
  'poll',
  'chat',
  'stream',
  'images',
  'image-file',
  'prompt',
  'upload',
  'history',
  'view',
]);

// PostgreSQL hands BIGINT columns over as strings (the row type says what SQLite gives): Number() is for it.
/* eslint-disable @typescript-eslint/no-unnecessary-type-conversion */
export function exchangeFromRow(r: ExchangeRow): UpstreamExchange {
  return {
    orgId: r.org_id,
    taskUUID: r.task_uuid,
    upstreamUrl: r.upstream_url,
    upstreamTaskUUID: r.upstream_task_uuid,
    kind: EXCHANGE_KINDS.has(r.kind) ? (r.kind as UpstreamExchange['kind']) : 'task',
    httpStatus: r.http_status === null ? null : Number(r.http_status),
    replyText: r.reply_text,
    error: r.error,
    latencyMs: Number(r.latency_ms),
    createdAt: Number(r.created_at),
  };
}
/* eslint-enable @typescript-eslint/no-unnecessary-type-conversion */

export interface LinkRow {
  original_uuid: string;
  rerun_uuid: string;
  created_at: number;
}

export const linkFromRow = (r: LinkRow): TaskLink => ({
  originalTaskUUID: r.original_uuid,
  rerunTaskUUID: r.rerun_uuid,
  createdAt: r.created_at,
});

/**
 * The tables holding rows that belong to one task (keyed by org_id and task_uuid), besides the
 * task row itself and its media: deleting a task deletes its rows in all of them. A delivery's
 * attempts go first, through their delivery (delivery_attempts has no task column).
 */
export const TASK_OWNED_TABLES = ['deliveries', 'task_items', 'jobs', 'upstream_exchanges', 'output_archives'] as const;

/** A usage_limits row; PostgreSQL hands BIGINT columns over as strings, so numbers are read with Number. */
export interface LimitRow {
  scope: LimitScope;
  scope_id: string;
  per_second: number | string | null;
  per_minute: number | string | null;
  spend_per_day: number | string | null;
  spend_per_month: number | string | null;
}

const numberOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

export const limitsFromRow = (r: LimitRow): UsageLimits => ({
  perSecond: numberOrNull(r.per_second),
  perMinute: numberOrNull(r.per_minute),
  spendPerDay: numberOrNull(r.spend_per_day),
  spendPerMonth: numberOrNull(r.spend_per_month),
});

export interface UpstreamAccountRow {
  org_id: string;
  name: string;
  url: string;
  sealed_key: string;
  updated_at: number | string;
}

export const upstreamAccountFromRow = (r: UpstreamAccountRow): UpstreamAccount => ({
  orgId: r.org_id,
  name: r.name,
  url: r.url,
  sealedKey: r.sealed_key,
  updatedAt: Number(r.updated_at),
});
