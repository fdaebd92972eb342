// getResponse: the full current state of an earlier task, every result in a stable order (its
// index), each with `status`: `processing` (with `progress` where the engine reports it),
// `success`, or `error` (in `errors`). A task still running shows a placeholder for every result
// not produced yet, never an empty list. Works for sync tasks too, finished or not. Never recorded;
// unknown and other organizations' tasks get the same taskNotFound as getTaskDetails.

import { currentState, taskNotFound } from './task-state.js';
import type { LookupTaskModule } from './task-module.js';

export const getResponse: LookupTaskModule = {
  kind: 'lookup',
  taskType: 'getResponse',
  async lookup({ org, taskUUID, taskType, services }) {
    const task = await services.ledger.findTask(org.id, taskUUID);
    if (!task) return taskNotFound(taskType, taskUUID);
    return currentState(task, services);
  },
};
