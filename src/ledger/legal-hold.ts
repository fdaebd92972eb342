// The refusal a deletion meets while a legal hold is on (both backends raise it from inside
// their delete transaction, so a hold placed a moment earlier is always seen).

import type { LegalHold } from './chain-types.js';
import { ProtocolError } from '../protocol/errors.js';

export function legalHoldError(hold: LegalHold, taskUUID: string): ProtocolError {
  return new ProtocolError(
    'legalHold',
    {
      what: hold.taskUUID === null ? `Task ${taskUUID} (its organization)` : `Task ${taskUUID}`,
      since: new Date(hold.createdAt).toISOString(),
      reason: hold.reason,
    },
    { taskUUID },
  );
}
