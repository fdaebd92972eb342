// Ledger rows the storage-level suites write: a successful completion of a task.

import type { TaskCompletion } from '../../src/ledger/types.js';

/** A successful completion of `taskUUID`, with no cost, error or media. */
export const completion = (orgId: string, taskUUID: string, responseText = '{"data":[]}'): TaskCompletion => ({
  orgId,
  taskUUID,
  status: 'success',
  responseText,
  cost: null,
  errorCode: null,
  engine: 'builtin',
  completedAt: Date.now(),
  media: [],
});
