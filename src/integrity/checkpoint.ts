// Signed checkpoints: the head (last position and hash) of every lane of the chosen
// organizations at one moment, signed with the ledger key. Given to a third party, a checkpoint
// lets `runtrail ledger verify --checkpoint FILE` prove that nothing the ledger held up to it has
// changed since: every signed head must still be in its lane with the same hash, and the walk
// from the lane's start to it must hold.

import type { ChainHead, ChainStore } from '../ledger/chain-types.js';
import { signDocument, signatureProblem, type Signed } from './signed-document.js';
import type { LedgerSigner } from './signing-key.js';

export const CHECKPOINT_FORMAT = 'runtrail-checkpoint/1';

export type Checkpoint = Signed<{ format: string; createdAt: string; heads: ChainHead[] }>;

export async function makeCheckpoint(
  chain: ChainStore,
  signer: LedgerSigner,
  orgIds?: readonly string[],
): Promise<Checkpoint> {
  const heads: ChainHead[] = [];
  for (const orgId of orgIds ?? (await chain.organizations())) heads.push(...(await chain.heads(orgId)));
  return signDocument({ format: CHECKPOINT_FORMAT, createdAt: new Date().toISOString(), heads }, signer);
}

/** Why a checkpoint cannot be used (not one, or its signature does not hold), or undefined. */
export function checkpointProblem(c: Checkpoint, trustedPublicKeyPem?: string): string | undefined {
  if (c.format !== CHECKPOINT_FORMAT) return `is not a ${CHECKPOINT_FORMAT} document`;
  return signatureProblem(c as unknown as Record<string, unknown>, trustedPublicKeyPem);
}

/** Reads a checkpoint from its JSON text; throws with what is wrong with its shape. */
export function parseCheckpoint(text: string): Checkpoint {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('the checkpoint file is not JSON');
  }
  const o = v as Partial<Checkpoint> | null;
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.createdAt !== 'string' ||
    !Array.isArray(o.heads) ||
    !o.heads.every(
      (h: Partial<ChainHead>) =>
        typeof h.orgId === 'string' &&
        typeof h.lane === 'string' &&
        Number.isInteger(h.seq) &&
        typeof h.hash === 'string',
    )
  )
    throw new Error('the checkpoint file is not a runtrail checkpoint (format, createdAt, heads)');
  return o as Checkpoint;
}
