// What verification reports: each problem names the entry (or task) and what differs.

export type ProblemKind =
  /** A task's stored field no longer matches what the chain recorded. */
  | 'row-edited'
  /** A task the chain recorded is gone without a tombstone. */
  | 'row-removed'
  /** A task in the ledger that no chain entry records. */
  | 'row-inserted'
  /** A media file whose bytes no longer hash to what the chain recorded. */
  | 'media-changed'
  /** A media record or file the chain recorded is gone without a deletion entry. */
  | 'media-removed'
  /** An entry whose hash does not cover its own contents. */
  | 'entry-edited'
  /** An entry missing from its lane (a gap, or a link to an entry that is not there). */
  | 'entry-removed'
  /** An entry that does not belong in its lane's sequence. */
  | 'entry-inserted'
  /** Entries in another order than they were appended. */
  | 'reordered'
  /** The ledger differs from a signed checkpoint (or the checkpoint's signature does not hold). */
  | 'checkpoint-mismatch'
  /** A tombstone whose record of what was removed does not match the chain. */
  | 'tombstone-mismatch'
  /** An export's files differ from what its signed proof says (cut short, edited, or lines missing). */
  | 'export-truncated'
  | 'export-edited';

export interface Problem {
  kind: ProblemKind;
  orgId: string;
  taskUUID: string | null;
  lane?: string;
  seq?: number;
  /** The field that differs, for row-edited. */
  field?: string;
  /** What the chain (or proof) says, and what was found. */
  expected?: unknown;
  found?: unknown;
  detail: string;
}

/** Collects problems up to a bound (a ledger broken everywhere must not fill the memory). */
export class ProblemList {
  readonly list: Problem[] = [];
  total = 0;
  constructor(private readonly max: number) {}

  add(p: Problem): void {
    this.total++;
    if (this.list.length < this.max) this.list.push(p);
  }
}
