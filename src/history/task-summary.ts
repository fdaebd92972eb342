// What a listing shows of a task (the history API and `runtrail tasks list` alike): everything
// but the full texts, with the prompt pulled out of the request for people to recognise it by.

import type { StoredTask } from '../ledger/types.js';

const PROMPT_PREVIEW = 300;

export interface TaskSummary {
  taskUUID: string;
  taskType: string;
  status: StoredTask['status'];
  model: string | null;
  prompt: string | null;
  transport: StoredTask['transport'];
  engine: string | null;
  cost: number | null;
  errorCode: string | null;
  createdAt: string;
  completedAt: string | null;
  durationMs: number | null;
  /** Id of the API key the task came in with (null: recorded before keys were noted, or imported). */
  apiKeyId: string | null;
  /** A finished task whose response holds results and errors both (some of its results failed). */
  partial: boolean;
}

export function taskSummary(t: StoredTask): TaskSummary {
  return {
    taskUUID: t.taskUUID,
    taskType: t.taskType,
    status: t.status,
    model: t.model,
    prompt: promptOf(t.requestText),
    transport: t.transport,
    engine: t.engine,
    cost: t.cost,
    errorCode: t.errorCode,
    createdAt: new Date(t.createdAt).toISOString(),
    completedAt: t.completedAt === null ? null : new Date(t.completedAt).toISOString(),
    durationMs: t.completedAt === null ? null : t.completedAt - t.createdAt,
    apiKeyId: t.apiKeyId ?? null,
    partial: isPartial(t),
  };
}

/** Some results succeeded and some failed: the response holds both `data` items and `errors`. */
function isPartial(t: StoredTask): boolean {
  if (t.status !== 'success' || t.responseText === null || !t.responseText.includes('"errors"')) return false;
  try {
    const r = JSON.parse(t.responseText) as { data?: unknown[]; errors?: unknown[] };
    return Array.isArray(r.data) && r.data.length > 0 && Array.isArray(r.errors) && r.errors.length > 0;
  } catch {
    return false;
  }
}

/** The positivePrompt of the task's (first) object, shortened for listings. */
export function promptOf(requestText: string): string | null {
  if (!requestText.includes('"positivePrompt"')) return null;
  try {
    const first = (JSON.parse(requestText) as unknown[])[0] as Record<string, unknown> | undefined;
    const p = first?.['positivePrompt'];
    if (typeof p !== 'string') return null;
    return p.length > PROMPT_PREVIEW ? `${p.slice(0, PROMPT_PREVIEW)}…` : p;
  } catch {
    return null;
  }
}
