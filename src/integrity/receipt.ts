// Deletion receipts: what the one who asked for a deletion gets back, signed with the ledger key.
// It names the task, when and why it was deleted, the hash of the entries its deletion removed
// from view, and the tombstone entry (lane, position, hash) that records the deletion in the
// chain, so the receipt can later be checked against the chain (verify) or a checkpoint.

import type { Tombstone } from '../ledger/chain-types.js';
import { signDocument, type Signed } from './signed-document.js';
import type { LedgerSigner } from './signing-key.js';

export const RECEIPT_FORMAT = 'runtrail-deletion-receipt/1';

export type DeletionReceipt = Signed<{
  format: string;
  orgId: string;
  taskUUID: string;
  deletedAt: string;
  reason: string;
  removed: string;
  tombstone: { lane: string; seq: number; hash: string };
}>;

export function deletionReceipt(t: Tombstone, signer: LedgerSigner): DeletionReceipt {
  return signDocument(
    {
      format: RECEIPT_FORMAT,
      orgId: t.orgId,
      taskUUID: t.taskUUID,
      deletedAt: new Date(t.deletedAt).toISOString(),
      reason: t.reason,
      removed: t.removed,
      tombstone: { lane: t.lane, seq: t.seq, hash: t.hash },
    },
    signer,
  );
}
