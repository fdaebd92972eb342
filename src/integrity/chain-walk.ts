// Walks one lane of a chain from its first entry and checks what the entries alone prove: each
// entry's hash covers its payload and its predecessor's hash, positions have no gaps, and the
// lane reaches the positions a checkpoint signed with the hashes it signed. The same walk runs
// online (ledger verify, the API) and offline (an export's chain file).

import { GENESIS_HASH, entryHash } from '../ledger/chain-payload.js';
import type { ChainEntry, ChainHead } from '../ledger/chain-types.js';
import type { ProblemList } from './problems.js';

export interface ChainSource {
  heads(orgId: string): Promise<ChainHead[]>;
  entries(orgId: string, lane: string, after: number, limit: number): Promise<ChainEntry[]>;
}

const PAGE = 2000;
/** How far ahead a broken link is looked for among later entries, to tell a reordering from a removal. */
const LOOKAHEAD = PAGE;

/**
 * Walks `head.lane` up to `head.seq` (entries appended since are left for the next run), calling
 * `visit` with every entry in order; `signed` is the checkpoint's head of the lane, if any.
 * Returns how many entries it walked.
 */
export async function walkLane(
  source: ChainSource,
  head: ChainHead,
  problems: ProblemList,
  visit: (entry: ChainEntry) => Promise<void> | void,
  signed?: ChainHead,
  /** Told each page of entries before they are visited (to read what they name in one go). */
  beforePage?: (entries: readonly ChainEntry[]) => Promise<void>,
): Promise<number> {
  let prev: ChainEntry | undefined;
  let beforePrev: ChainEntry | undefined;
  let walked = 0;
  let after = 0;
  let signedSeen = signed === undefined;
  const at = (e: ChainEntry) => ({ orgId: e.orgId, taskUUID: e.taskUUID || null, lane: e.lane, seq: e.seq });
  for (;;) {
    const page = await source.entries(head.orgId, head.lane, after, PAGE);
    const inRange = page.filter((e) => e.seq <= head.seq);
    await beforePage?.(inRange);
    for (let i = 0; i < inRange.length; i++) {
      const e = inRange[i]!;
      walked++;
      if (entryHash(e.prevHash, e.payload) !== e.hash) {
        problems.add({
          kind: 'entry-edited',
          ...at(e),
          expected: e.hash,
          found: entryHash(e.prevHash, e.payload),
          detail: `entry ${e.lane}#${e.seq}'s hash does not cover its contents: it was edited after it was written`,
        });
      }
      const expectedPrev = prev?.hash ?? GENESIS_HASH;
      const expectedSeq = (prev?.seq ?? 0) + 1;
      if (e.seq !== expectedSeq) {
        problems.add({
          kind: 'entry-removed',
          ...at(e),
          expected: expectedSeq,
          found: e.seq,
          detail: `entries ${e.lane}#${expectedSeq}..${e.seq - 1} are missing before this one`,
        });
      } else if (e.prevHash !== expectedPrev) {
        const later = inRange.slice(i + 1, i + 1 + LOOKAHEAD);
        if (beforePrev !== undefined && e.prevHash === beforePrev.hash) {
          problems.add({
            kind: 'entry-inserted',
            ...at(prev!),
            detail: `entry ${prev!.lane}#${prev!.seq} was put into the lane: the entry after it links past it`,
          });
        } else if (
          later.some((l) => l.hash === e.prevHash) ||
          (prev !== undefined && later.some((l) => l.prevHash === prev?.hash))
        ) {
          problems.add({
            kind: 'reordered',
            ...at(e),
            detail: `entry ${e.lane}#${e.seq} is out of order: it was appended after an entry that now comes later`,
          });
        } else {
          problems.add({
            kind: 'entry-removed',
            ...at(e),
            expected: expectedPrev,
            found: e.prevHash,
            detail: `the entry before ${e.lane}#${e.seq} is missing: it links to an entry that is not in the lane`,
          });
        }
      }
      if (signed !== undefined && e.seq === signed.seq) {
        signedSeen = true;
        if (e.hash !== signed.hash)
          problems.add({
            kind: 'checkpoint-mismatch',
            ...at(e),
            expected: signed.hash,
            found: e.hash,
            detail: `entry ${e.lane}#${e.seq} differs from the one the checkpoint signed`,
          });
      }
      await visit(e);
      beforePrev = prev;
      prev = e;
    }
    if (page.length < PAGE || inRange.length < page.length) break;
    after = page[page.length - 1]!.seq;
  }
  if (!signedSeen && signed !== undefined) {
    problems.add({
      kind: 'checkpoint-mismatch',
      orgId: head.orgId,
      taskUUID: null,
      lane: head.lane,
      seq: signed.seq,
      expected: signed.seq,
      found: prev?.seq ?? 0,
      detail: `the checkpoint signed ${head.lane}#${signed.seq}, but the lane now ends at #${prev?.seq ?? 0}: entries were removed`,
    });
  }
  return walked;
}
