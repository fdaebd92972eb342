// getTaskDetails: the original request array and response envelope of an earlier task, spliced
// from the ledger's stored text without re-serializing, so both come back byte for byte.
// Unknown tasks and other organizations' tasks get the very same not-found answer.

import type { LookupTaskModule } from './task-module.js';
import { currentResponseText, taskNotFound } from './task-state.js';

export const getTaskDetails: LookupTaskModule = {
  kind: 'lookup',
  taskType: 'getTaskDetails',
  async lookup({ org, taskUUID, taskType, services }) {
    const task = await services.ledger.findTask(org.id, taskUUID);
    if (!task) return taskNotFound(taskType, taskUUID);
    const head = JSON.stringify({ taskType, taskUUID });
    const item = `${head.slice(0, -1)},"request":${task.requestText},"response":${await currentResponseText(task, services)}}`;
    return { data: [item], errors: [] };
  },
};
