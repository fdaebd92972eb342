// The storage side of archived outputs (src/archive/): for every output a forwarded task's upstream
// returned, one row saying where it came from and what became of it (pending, archived with its
// media row, failed with the reason, or skipped by the organization's policy), and each
// organization's archive policy. Pending rows are the archive work queue: they are leased like
// deliveries, so a crash or another replica picks up what was left. Each backend implements this
// in its own output-archives.ts.

import type { MediaRecord } from './types.js';

export type ArchiveState = 'pending' | 'archived' | 'failed' | 'skipped';

/** How an output was given: a URL to fetch, or the bytes themselves (base64 or a data URI). */
export type OutputForm = 'url' | 'base64' | 'dataURI';

/** One output to archive, as the upstream engine hands it over. */
export interface NewOutputArchive {
  orgId: string;
  taskUUID: string;
  /** Position of the item among the task's results. */
  itemIndex: number;
  /** The item's member the output was in (`imageURL`, `videoBase64Data`…). */
  field: string;
  form: OutputForm;
  /** The upstream URL (form `url`); null for inline outputs. */
  sourceUrl: string | null;
  /** The inline value (base64 or data URI) until it is archived; null for URLs. */
  inlineValue: string | null;
  /** `skipped` (with `error` saying why) when the policy keeps nothing; otherwise `pending`. */
  state: 'pending' | 'skipped';
  /** Largest size to keep in bytes (the policy's limit or the server's bound, the smaller). */
  maxBytes: number;
  error: string | null;
  createdAt: number;
}

/** A pending output as a worker claims it. */
export interface PendingOutputArchive extends NewOutputArchive {
  id: string;
  /** Attempts made before this one. */
  attempts: number;
}

/** An output's row as shown with its task. */
export interface OutputArchiveRecord {
  id: string;
  orgId: string;
  taskUUID: string;
  itemIndex: number;
  field: string;
  form: OutputForm;
  sourceUrl: string | null;
  state: ArchiveState;
  attempts: number;
  error: string | null;
  /** Set once archived: the media row holding the copy, and what was stored. */
  mediaUUID: string | null;
  contentType: string | null;
  bytes: number | null;
  sha256: string | null;
  createdAt: number;
  finishedAt: number | null;
}

/** Archive all outputs, none, or those up to `maxBytes` each. */
export type ArchivePolicy = { mode: 'all' } | { mode: 'none' } | { mode: 'limit'; maxBytes: number };

export interface ArchivedCopy {
  media: MediaRecord;
  contentType: string;
  sha256: string;
}

export type ArchiveRetry = { retryAt: number } | { state: 'failed' | 'skipped' };

export interface OutputArchiveStore {
  /** Records outputs to archive; one already recorded (same task, item and member) is left as it is. */
  add(outputs: readonly NewOutputArchive[]): Promise<void>;
  /** Leases up to `limit` pending outputs due at `now` for `owner` for `leaseMs`. */
  claimDue(owner: string, now: number, limit: number, leaseMs: number): Promise<PendingOutputArchive[]>;
  /** When the next pending output falls due (ms epoch), if any. */
  nextDueAt(): Promise<number | undefined>;
  /**
   * Marks the output archived and records its media row in one write. Resolves false, writing
   * nothing, when the row is gone (the task was deleted meanwhile): the caller removes the file.
   */
  archived(id: string, attempts: number, copy: ArchivedCopy, finishedAt: number): Promise<boolean>;
  /**
   * Records an attempt that kept nothing: another try at `retryAt`, or an end, `failed` (the
   * output could not be had) or `skipped` (larger than the organization's policy keeps).
   */
  attemptFailed(id: string, attempts: number, error: string, next: ArchiveRetry, finishedAt: number): Promise<void>;
  /** At startup: outputs a previous process left mid-fetch are due now (SQLite; one process owns the file). */
  releaseAbandoned(): Promise<number>;
  /** Every output of a task, in item and member order. */
  listForTask(orgId: string, taskUUID: string): Promise<OutputArchiveRecord[]>;
  /** The organization's own policy, undefined when it follows the server default. */
  policyOf(orgId: string): Promise<ArchivePolicy | undefined>;
  /** Sets the organization's policy; undefined returns it to the server default. */
  setPolicy(orgId: string, policy: ArchivePolicy | undefined): Promise<void>;
}
