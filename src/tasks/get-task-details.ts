// getTaskDetails: the original request array and response envelope of an earlier task, spliced
// from the ledger's stored text without re-serializing, so both come back byte for byte.
// Unknown tasks and other organizations' tasks get the very same not-found answer.

import { ProtocolError } from '../protocol/errors.js';
import { taskEnvelope, type SerializedOutcome } from '../protocol/envelope.js';
import type { StoredTask } from '../ledger/types.js';
import type { LookupTaskModule, TaskServices } from './task-module.js';
import { currentState, type TaskStateSources } from './get-response.js';


export function taskNotFound(taskType: string, taskUUID: string): SerializedOutcome {
  const error = new ProtocolError('taskNotFound', {}, { parameter: 'taskUUID', type: 'string' }).toObject({ taskType, taskUUID });
  return { data: [], errors: [JSON.stringify(error)] };
}

/** The response object of a stored task: its envelope, or a processing placeholder while it runs (no ledger reads). */
export function responseTextOf(task: StoredTask): string {
  return task.responseText ?? `{"data":[${JSON.stringify({ taskType: task.taskType, taskUUID: task.taskUUID, status: 'processing' })}]}`;
}

/** The response of a stored task: its envelope, or while it runs its current state (docs/protocol.md, "What is recorded"). */
export async function currentResponseText(task: StoredTask, services: TaskStateSources): Promise<string> {
  return task.responseText ?? taskEnvelope(await currentState(task, services));
}

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
