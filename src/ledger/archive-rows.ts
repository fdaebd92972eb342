// Rows of the archived-outputs tables (migration 13) as both backends read them, and the domain
// objects they become.

import type {
  ArchivePolicy,
  ArchiveState,
  OutputArchiveRecord,
  OutputForm,
  PendingOutputArchive,
} from './archive-types.js';

export interface OutputArchiveRow {
  id: string;
  org_id: string;
  task_uuid: string;
  item_index: number;
  field: string;
  form: OutputForm;
  source_url: string | null;
  inline_value: string | null;
  max_bytes: number;
  state: ArchiveState;
  attempts: number;
  next_attempt_at: number | null;
  owner: string | null;
  error: string | null;
  media_uuid: string | null;
  content_type: string | null;
  bytes: number | null;
  sha256: string | null;
  created_at: number;
  finished_at: number | null;
}

export interface ArchivePolicyRow {
  mode: ArchivePolicy['mode'];
  max_bytes: number | null;
}

/** The columns an insert names, in the order both backends bind them. */
export const OUTPUT_ARCHIVE_INSERT_COLUMNS =
  'id, org_id, task_uuid, item_index, field, form, source_url, inline_value, max_bytes, state, next_attempt_at, error, created_at, finished_at';

export const outputArchiveFromRow = (r: OutputArchiveRow): OutputArchiveRecord => ({
  id: r.id,
  orgId: r.org_id,
  taskUUID: r.task_uuid,
  itemIndex: r.item_index,
  field: r.field,
  form: r.form,
  sourceUrl: r.source_url,
  state: r.state,
  attempts: r.attempts,
  error: r.error,
  mediaUUID: r.media_uuid,
  contentType: r.content_type,
  bytes: r.bytes,
  sha256: r.sha256,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
});

export const pendingOutputFromRow = (r: OutputArchiveRow): PendingOutputArchive => ({
  id: r.id,
  orgId: r.org_id,
  taskUUID: r.task_uuid,
  itemIndex: r.item_index,
  field: r.field,
  form: r.form,
  sourceUrl: r.source_url,
  inlineValue: r.inline_value,
  state: 'pending',
  maxBytes: r.max_bytes,
  error: r.error,
  createdAt: r.created_at,
  attempts: r.attempts,
});

export function policyFromRow(r: ArchivePolicyRow | undefined): ArchivePolicy | undefined {
  if (!r) return undefined;
  if (r.mode === 'limit') return { mode: 'limit', maxBytes: r.max_bytes ?? 0 };
  return { mode: r.mode };
}
