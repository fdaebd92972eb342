// The two members of a task that the ledger keeps as columns of their own beside its exact text:
// `taskType` and `model` (history filters, spend, audit). Both backends must store the same
// tasks alike, and PostgreSQL refuses what SQLite takes (text holding U+0000; an index entry over
// about 2 700 bytes, which a long taskType makes), so the columns only ever hold values that fit
// everywhere, and a model that cannot be an identifier is refused before anything is written.

import { ProtocolError } from '../protocol/errors.js';

/** Longest taskType kept in its column; the protocol's longest name has 25 characters. */
export const MAX_RECORDED_TASK_TYPE_LENGTH = 64;

// C0 and C1 control characters (U+0000 among them), and unpaired surrogates (not text).
/* eslint-disable no-control-regex -- finding control characters is the point */
const UNSTORABLE =
  /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/* eslint-enable no-control-regex */

/** invalidModel for a string model holding control characters (no model identifier does); undefined otherwise. */
export function modelProblem(model: unknown): ProtocolError | undefined {
  if (typeof model !== 'string' || !CONTROL.test(model)) return undefined;
  return new ProtocolError(
    'invalidModel',
    { parameter: 'model', reason: 'A model identifier (AIR) holds no control characters.' },
    {
      parameter: 'model',
      type: 'string',
    },
  );
}

/**
 * The taskType column of a task: its taskType when it fits (at most 64 characters, no control
 * characters), otherwise empty. Such a task can only be an unsupported one, and its request text
 * keeps the taskType exactly.
 */
export function recordedTaskType(taskType: string | undefined): string {
  if (taskType === undefined || taskType.length > MAX_RECORDED_TASK_TYPE_LENGTH || UNSTORABLE.test(taskType)) return '';
  return taskType;
}

/** The model column of a task: its model when it is a string every backend stores, otherwise null. */
export function recordedModel(model: unknown): string | null {
  return typeof model === 'string' && !UNSTORABLE.test(model) ? model : null;
}
