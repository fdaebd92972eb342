// Tasks recorded before the chain existed (a ledger older than the migration that created it)
// have no entry, and verify reports each of them as written around the ledger. Adopting them
// appends each one's first entry now, built from its row as an import would build it, so from
// then on they are covered like any other. It cannot prove what happened to them before: the
// operator who runs it says they are as they should be. Only tasks created before a cut-off
// (by default when the chain began) are adopted, so a row slipped in later is still reported.

import { draftForNewTask, storedCompletion } from '../ledger/chain-payload.js';
import type { Storage } from '../ledger/types.js';

export interface AdoptionReport {
  adopted: number;
  /** Tasks without an entry created at or after the cut-off: left, and still reported by verify (counted up to one page). */
  left: number;
}

const PAGE = 500;

export async function adoptUnchainedTasks(
  storage: { chain: Storage['chain']; ledger: Pick<Storage['ledger'], 'findTasksWithMedia'> },
  orgId: string,
  createdBefore: number,
): Promise<AdoptionReport> {
  let adopted = 0;
  let left = 0;
  // unchainedTasks gives the oldest first, so each page starts with tasks still to adopt.
  for (;;) {
    const uuids = await storage.chain.unchainedTasks(orgId, PAGE);
    if (uuids.length === 0) break;
    const found = await storage.ledger.findTasksWithMedia(orgId, uuids);
    const due = found
      .filter(({ task }) => task.createdAt < createdBefore)
      .sort((a, b) => a.task.createdAt - b.task.createdAt || (a.task.taskUUID < b.task.taskUUID ? -1 : 1));
    left = uuids.length - due.length;
    if (due.length === 0) break;
    const appended = await storage.chain.appendFirstEntries(
      due.map(({ task, media }) => draftForNewTask(task, storedCompletion(task, media))),
    );
    adopted += appended;
    if (appended === 0) break; // another process adopted them meanwhile
  }
  return { adopted, left };
}
