// The state of a recorded task as the lookups show it, shared by getResponse, getTaskDetails, the
// history API, the CLI and the worker pool: the request as its sender spelled it, the results so
// far of a task still running (with placeholders for the rest), and the not-found answer that
// unknown tasks and other organizations' tasks get alike.

import { ProtocolError } from '../protocol/errors.js';
import { outcomeFromEnvelope, taskEnvelope, type SerializedOutcome } from '../protocol/envelope.js';
import type { StoredTask } from '../ledger/types.js';
import { resultsAsked } from '../protocol/results-asked.js';
import type { TaskServices } from './task-module.js';

const MAX_RESULTS = 100;

export function taskNotFound(taskType: string, taskUUID: string): SerializedOutcome {
  const error = new ProtocolError('taskNotFound', {}, { parameter: 'taskUUID', type: 'string' }).toObject({
    taskType,
    taskUUID,
  });
  return { data: [], errors: [JSON.stringify(error)] };
}

/** The response object of a stored task: its envelope, or a processing placeholder while it runs (no ledger reads). */
export function responseTextOf(task: StoredTask): string {
  return (
    task.responseText ??
    `{"data":[${JSON.stringify({ taskType: task.taskType, taskUUID: task.taskUUID, status: 'processing' })}]}`
  );
}

/** The response of a stored task: its envelope, or while it runs its current state, as getResponse shows it (docs/async.md). */
export async function currentResponseText(task: StoredTask, services: TaskStateSources): Promise<string> {
  return task.responseText ?? taskEnvelope(await currentState(task, services));
}

/** What reading a running task's state needs: the recorded results, and (in the server) live progress. */
export type TaskStateSources = Pick<TaskServices, 'queue'> & Partial<Pick<TaskServices, 'progress'>>;

/** A task's results as they stand: the recorded outcome once finished, else results so far plus placeholders. */
export async function currentState(task: StoredTask, services: TaskStateSources): Promise<SerializedOutcome> {
  if (task.responseText !== null) {
    const outcome = outcomeFromEnvelope(task.responseText);
    return {
      data: outcome.data.map((t) => withStatus(t, 'success')),
      errors: outcome.errors.map((t) => withStatus(t, 'error')),
    };
  }
  const original = originalTask(task);
  const results = await services.queue.listItems(task.orgId, task.taskUUID);
  const byIndex = new Map(results.map((r) => [r.index, r]));
  const count = Math.max(original.numberResults, (results.at(-1)?.index ?? -1) + 1);
  const progress = services.progress?.of(task.orgId, task.taskUUID);
  const data: string[] = [];
  const errors: string[] = [];
  for (let i = 0; i < count; i++) {
    const result = byIndex.get(i);
    if (result?.status === 'error') errors.push(withStatus(result.text, 'error'));
    else if (result) data.push(withStatus(result.text, 'success'));
    else {
      const percent = progress?.get(i);
      data.push(
        JSON.stringify({
          taskType: original.taskType,
          taskUUID: original.taskUUID,
          status: 'processing',
          ...(percent === undefined ? {} : { progress: percent }),
        }),
      );
    }
  }
  return { data, errors };
}

/** The (first) task object of a stored request, parsed. */
export function requestObject(task: StoredTask): Record<string, unknown> {
  try {
    const first = (JSON.parse(task.requestText) as unknown[])[0];
    return first !== null && typeof first === 'object' ? (first as Record<string, unknown>) : {};
  } catch {
    return {}; // the stored request is the exact text received; a task that ran was valid JSON
  }
}

/** The taskType and taskUUID as the task's sender spelled them, and how many results it asked for. */
export function originalTask(task: StoredTask): { taskType: string; taskUUID: string; numberResults: number } {
  const first = requestObject(task);
  return {
    taskType: typeof first['taskType'] === 'string' ? first['taskType'] : task.taskType,
    taskUUID: typeof first['taskUUID'] === 'string' ? first['taskUUID'] : task.taskUUID,
    numberResults: Math.min(resultsAsked(first), MAX_RESULTS),
  };
}

/** Adds `"status"` to a result's text when it has none (sync results are stored as sent, without it). */
export function withStatus(text: string, status: 'success' | 'error'): string {
  const value: unknown = JSON.parse(text);
  if (value !== null && typeof value === 'object' && 'status' in value) return text;
  return text === '{}' ? `{"status":"${status}"}` : `${text.slice(0, -1)},"status":"${status}"}`;
}
