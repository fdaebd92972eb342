// The storage side of the ledger's hash chain (docs/ledger-integrity.md): the entries each
// backend appends in the same transaction as the ledger write they describe, and the reads that
// verification, checkpoints and exports need. Legal holds live here too: they decide whether a
// deletion may append a tombstone at all.

import type { EntryDraft } from './chain-payload.js';

/** The schema migration that created the chain, on both backends (its time is when the chain began). */
export const CHAIN_MIGRATION = 11;

/**
 * What a chain entry records about its task. A task recorded finished in one write (an instant
 * task, one refused before any work, an import) gets one `finished` entry, record and completion
 * in one payload; one recorded before its work gets `record`, then `item`s and `complete`.
 */
export type ChainEntryKind = 'record' | 'complete' | 'finished' | 'item' | 'tombstone' | 'media-deleted';

/** Who asked for a deletion: the retention sweeper, the task's own organization (API), the operator (CLI), or the server withdrawing a task it never acknowledged. */
export type DeletionReason = 'retention' | 'request' | 'operator' | 'withdrawn';

export interface ChainEntry {
  orgId: string;
  /**
   * The sequence this entry belongs to. An organization's chain is one or more lanes, each
   * appended by one writer at a time (SQLite: `main`; PostgreSQL: one per database connection),
   * so writers never wait for each other's entries.
   */
  lane: string;
  /** Position in the lane, from 1, without gaps. */
  seq: number;
  taskUUID: string;
  kind: ChainEntryKind;
  recordedAt: number;
  /** The canonical JSON the entry's hash covers (chain-payload.ts): hashes of the texts, plain small fields. */
  payload: string;
  /** The hash of the lane's entry before this one (64 zeros for the first). */
  prevHash: string;
  /** sha256 hex of `prevHash + "\n" + payload`. */
  hash: string;
}

/** The last entry of one lane. */
export interface ChainHead {
  orgId: string;
  lane: string;
  seq: number;
  hash: string;
}

/** A deletion as the chain recorded it: the receipt is made from this. */
export interface Tombstone {
  orgId: string;
  taskUUID: string;
  deletedAt: number;
  reason: DeletionReason;
  /** sha256 over the hashes of the task's earlier entries: what was removed. */
  removed: string;
  lane: string;
  seq: number;
  hash: string;
}

/** A legal hold: on the whole organization (taskUUID null) or on one task. */
export interface LegalHold {
  orgId: string;
  taskUUID: string | null;
  reason: string;
  createdAt: number;
}

export interface ChainStore {
  /** Organizations that have at least one chain entry. */
  organizations(): Promise<string[]>;
  /** The head of every lane of the organization, lanes in name order. */
  heads(orgId: string): Promise<ChainHead[]>;
  /** Up to `limit` entries of one lane after position `after`, in order. */
  entries(orgId: string, lane: string, after: number, limit: number): Promise<ChainEntry[]>;
  /** The entries of one task, in every lane, oldest first. */
  taskEntries(orgId: string, taskUUID: string): Promise<ChainEntry[]>;
  /** Tasks with a tombstone and media with a media-deleted entry: what verification expects to be gone. */
  removals(orgId: string): Promise<{ tasks: Set<string>; media: Set<string> }>;
  /** Up to `limit` tasks of the organization that no `record` entry covers (rows written around the ledger). */
  unchainedTasks(orgId: string, limit: number): Promise<string[]>;
  /**
   * Appends, in one transaction and in the given order, the first entry of each task the drafts
   * name that has none yet (`runtrail ledger adopt`: tasks recorded before the chain existed);
   * returns how many it appended.
   */
  appendFirstEntries(drafts: readonly EntryDraft[]): Promise<number>;
  /** When the chain began on this ledger (the migration that created it), or null if unknown. */
  chainStartedAt(): Promise<number | null>;
  /** Places a hold (replacing the reason of an existing one). */
  placeHold(hold: LegalHold): Promise<void>;
  /** Lifts a hold; false when there was none. */
  liftHold(orgId: string, taskUUID: string | null): Promise<boolean>;
  listHolds(orgId: string): Promise<LegalHold[]>;
}
