// The two members of a task that the ledger keeps as columns of their own besides its exact text:
// `taskType` and `model` (history filters, spend, routing audit). Both backends must take any
// value that passes here, so these limits hold before anything is written: a taskType is a
// protocol name (letters and digits, at most 64 of them; the longest the protocol defines has
// 25), and a model is an identifier of at most 256 characters without control characters
// (PostgreSQL text cannot hold U+0000, and an index entry is limited to about 2 700 bytes).

import { ProtocolError } from '../protocol/errors.js';

export const MAX_TASK_TYPE_LENGTH = 64;
export const MAX_MODEL_LENGTH = 256;

const TASK_TYPE_FORM = new RegExp(`^[A-Za-z0-9]{1,${MAX_TASK_TYPE_LENGTH}}$`);
// C0 and C1 control characters, and lone surrogates (not valid UTF-8 text).
const UNSTORABLE = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** invalidTaskType for a string taskType outside the protocol's form; undefined when it fits. */
export function taskTypeProblem(taskType: string): ProtocolError | undefined {
  if (TASK_TYPE_FORM.test(taskType)) return undefined;
  return new ProtocolError(
    'invalidTaskType',
    `Invalid value for 'taskType' parameter. It must be a task type name: 1 to ${MAX_TASK_TYPE_LENGTH} letters and digits.`,
    { parameter: 'taskType', type: 'string' },
  );
}

/** invalidModel for a string model too long or holding control characters; undefined when it fits (or is not a string). */
export function modelProblem(model: unknown): ProtocolError | undefined {
  if (typeof model !== 'string' || (model.length <= MAX_MODEL_LENGTH && !UNSTORABLE.test(model))) return undefined;
  return new ProtocolError(
    'invalidModel',
    `Invalid value for 'model' parameter. It must be a model identifier (AIR) of at most ${MAX_MODEL_LENGTH} characters, without control characters.`,
    { parameter: 'model', type: 'string' },
  );
}

/** The taskType column of a task: its taskType when it fits, otherwise empty (the request text keeps it exactly). */
export function recordedTaskType(taskType: string | undefined): string {
  return taskType !== undefined && taskTypeProblem(taskType) === undefined ? taskType : '';
}

/** The model column of a task: its model when it is a string that fits, otherwise null. */
export function recordedModel(model: unknown): string | null {
  return typeof model === 'string' && modelProblem(model) === undefined ? model : null;
}
