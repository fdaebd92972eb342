// Row shapes of the chain tables (the same column names in SQLite and PostgreSQL) and their
// mapping to the chain's types.

import type { ChainEntry, LegalHold } from './chain-types.js';

export interface EntryRow {
  org_id: string;
  lane: string;
  seq: number;
  task_uuid: string;
  kind: ChainEntry['kind'];
  recorded_at: number;
  payload: string;
  prev_hash: string;
  hash: string;
}

export interface HoldRow {
  org_id: string;
  task_uuid: string;
  reason: string;
  created_at: number;
}

export function entryFromRow(r: EntryRow): ChainEntry {
  return {
    orgId: r.org_id,
    lane: r.lane,
    seq: r.seq,
    taskUUID: r.task_uuid,
    kind: r.kind,
    recordedAt: r.recorded_at,
    payload: r.payload,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export function holdFromRow(r: HoldRow): LegalHold {
  return {
    orgId: r.org_id,
    taskUUID: r.task_uuid === '' ? null : r.task_uuid,
    reason: r.reason,
    createdAt: r.created_at,
  };
}

/** Removed tasks and media, from the tombstone and media-deleted entries (both backends). */
export function removalSets(rows: readonly { kind: string; task_uuid: string; payload: string }[]): {
  tasks: Set<string>;
  media: Set<string>;
} {
  const tasks = new Set<string>();
  const media = new Set<string>();
  for (const r of rows) {
    if (r.kind === 'tombstone') tasks.add(r.task_uuid);
    else {
      const { mediaUUID } = JSON.parse(r.payload) as { mediaUUID?: unknown };
      if (typeof mediaUUID === 'string') media.add(mediaUUID);
    }
  }
  return { tasks, media };
}
