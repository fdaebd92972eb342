// Ledger rows the storage-level suites write: a modelSearch task as recorded, and a successful completion of a task.

import type { MediaRecord, NewTask, TaskCompletion } from '../../src/ledger/types.js';

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

/** A modelSearch task of `orgId` as a REST request records it. */
export const searchTask = (orgId: string, taskUUID: string): NewTask => ({
  orgId,
  taskUUID,
  taskType: 'modelSearch',
  requestText: `[{"taskType":"modelSearch","taskUUID":"${taskUUID}","search":"flux"}]`,
  model: null,
  transport: 'rest',
  createdAt: Date.now(),
});

/** How an instant modelSearch task finished (recordInstantTask's completion), with `media` if given. */
export const searchFinished = (taskUUID: string, media: MediaRecord[] = []) => ({
  status: 'success' as const,
  responseText: `{"data":[{"taskType":"modelSearch","taskUUID":"${taskUUID}","results":[]}]}`,
  cost: null,
  errorCode: null,
  engine: 'builtin',
  completedAt: Date.now(),
  media,
});
