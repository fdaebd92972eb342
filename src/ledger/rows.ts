// Row shapes shared by the SQL backends (same column names in SQLite and PostgreSQL) and their
// mapping to the domain types.

import type { ApiKeyInfo, MediaRecord, Organization, OrganizationRetention, StoredTask } from './types.js';

export interface TaskRow {
  org_id: string;
  task_uuid: string;
  task_type: string;
  status: StoredTask['status'];
  request_text: string;
  response_text: string | null;
  model: string | null;
  transport: StoredTask['transport'];
  cost: number | null;
  error_code: string | null;
  engine: string | null;
  created_at: number;
  completed_at: number | null;
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

export const taskFromRow = (r: TaskRow): StoredTask => ({
  orgId: r.org_id,
  taskUUID: r.task_uuid,
  taskType: r.task_type,
  status: r.status,
  requestText: r.request_text,
  responseText: r.response_text,
  model: r.model,
  transport: r.transport,
  cost: r.cost,
  errorCode: r.error_code,
  engine: r.engine,
  createdAt: r.created_at,
  completedAt: r.completed_at,
});

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
