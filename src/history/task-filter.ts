// Turns the filter words people type (query strings of GET /api/tasks, `runtrail tasks` flags)
// into a TaskFilter, and cursors into opaque strings and back. Bad input raises the protocol's
// invalid<Param> errors, so the HTTP edge answers with the usual envelope.

import { ProtocolError, invalidCode } from '../protocol/errors.js';
import { hasWord } from '../ledger/text-search.js';
import type { TaskCursor, TaskFilter, TaskStatus } from '../ledger/types.js';

export const TASK_STATUSES: readonly TaskStatus[] = ['processing', 'success', 'error'];

export interface FilterInput {
  taskType?: string | undefined;
  status?: string | undefined;
  model?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  text?: string | undefined;
  errorCode?: string | undefined;
  engine?: string | undefined;
  apiKey?: string | undefined;
}

export function parseTaskFilter(input: FilterInput): TaskFilter {
  const filter: TaskFilter = {};
  const taskType = short(input.taskType, 'taskType', 64);
  if (taskType !== undefined) filter.taskType = taskType;
  if (input.status !== undefined && input.status !== '') {
    if (!(TASK_STATUSES as readonly string[]).includes(input.status)) {
      throw new ProtocolError(
        'invalidStatus',
        { parameter: 'status', reason: `It must be one of ${TASK_STATUSES.join(', ')}.` },
        {
          parameter: 'status',
          type: 'string',
          allowedValues: TASK_STATUSES,
        },
      );
    }
    filter.status = input.status as TaskStatus;
  }
  const model = short(input.model, 'model', 256);
  if (model !== undefined) filter.model = model;
  const since = parseTime(input.since, 'since');
  if (since !== undefined) filter.createdFrom = since;
  const until = parseTime(input.until, 'until');
  if (until !== undefined) filter.createdBefore = until;
  const text = short(input.text, 'text', 256);
  if (text !== undefined && !hasWord(text)) {
    throw new ProtocolError(
      'invalidText',
      {
        parameter: 'text',
        reason: 'It must hold at least one letter or digit: the search finds words and what follows them.',
      },
      {
        parameter: 'text',
        type: 'string',
      },
    );
  }
  if (text !== undefined) filter.text = text;
  const errorCode = short(input.errorCode, 'errorCode', 64);
  if (errorCode !== undefined) filter.errorCode = errorCode;
  const engine = short(input.engine, 'engine', 64);
  if (engine !== undefined) filter.engine = engine;
  // An API key is named by its id (`runtrail keys list`), never by the key itself.
  const apiKey = short(input.apiKey, 'apiKey', 64);
  if (apiKey !== undefined) filter.apiKeyId = apiKey;
  return filter;
}

/**
 * A point in time: milliseconds since the epoch, an ISO 8601 date or date-time (a date alone
 * means its start, UTC), or a duration back from now (`30m`, `12h`, `7d`).
 */
export function parseTime(raw: string | undefined, parameter: string, now = Date.now()): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const ago = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(raw);
  let ms: number;
  if (/^\d{10,}$/.test(raw)) ms = Number(raw);
  else if (ago)
    ms = now - Number(ago[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
  else if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw))
    ms = Date.parse(raw.length === 10 ? `${raw}T00:00:00Z` : raw);
  else ms = NaN;
  if (!Number.isFinite(ms)) {
    throw new ProtocolError(
      invalidCode(parameter),
      {
        parameter,
        reason: 'Give an ISO 8601 date or date-time, milliseconds since the epoch, or a duration such as 7d or 12h.',
      },
      { parameter, type: 'string' },
    );
  }
  return ms;
}

export function encodeCursor(cursor: TaskCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.taskUUID])).toString('base64url');
}

export function decodeCursor(raw: string | undefined): TaskCursor | null {
  if (raw === undefined || raw === '') return null;
  try {
    const v: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      Number.isSafeInteger(v[0]) &&
      typeof v[1] === 'string' &&
      v[1].length <= 64
    ) {
      return { createdAt: v[0] as number, taskUUID: v[1] };
    }
  } catch {
    /* falls through to the error */
  }
  throw new ProtocolError(
    'invalidCursor',
    { parameter: 'cursor', reason: 'Pass the nextCursor of a previous page unchanged.' },
    {
      parameter: 'cursor',
      type: 'string',
    },
  );
}

export function parseLimit(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > max) {
    throw new ProtocolError(
      'invalidLimit',
      { parameter: 'limit', reason: `It must be a whole number from 1 to ${max}.` },
      {
        parameter: 'limit',
        type: 'integer',
        min: 1,
        max,
      },
    );
  }
  return n;
}

function short(raw: string | undefined, parameter: string, max: number): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > max) {
    throw new ProtocolError(
      invalidCode(parameter),
      { parameter, reason: `It must be at most ${max} characters.` },
      {
        parameter,
        type: 'string',
        max,
      },
    );
  }
  return raw;
}
