// Response envelopes, built from item texts that were serialized exactly once. The same texts
// go to the ledger and onto the wire, so what getTaskDetails returns is what the caller got.

import type { ErrorObject } from './errors.js';

/** One task's outcome as serialized item texts. */
export interface SerializedOutcome {
  data: string[];
  errors: string[];
}

export function serializeItems(data: readonly object[], errors: readonly ErrorObject[]): SerializedOutcome {
  return { data: data.map((d) => JSON.stringify(d)), errors: errors.map((e) => JSON.stringify(e)) };
}

/**
 * The envelope of one task as recorded in the ledger (DESIGN decision 3): `{"data":[…]}`,
 * `{"errors":[…]}` or both, never an empty array.
 */
export function taskEnvelope(outcome: SerializedOutcome): string {
  const parts: string[] = [];
  if (outcome.data.length > 0 || outcome.errors.length === 0) parts.push(`"data":[${outcome.data.join(',')}]`);
  if (outcome.errors.length > 0) parts.push(`"errors":[${outcome.errors.join(',')}]`);
  return `{${parts.join(',')}}`;
}

/**
 * The envelope of a whole REST reply: `data` always present (possibly empty, as the documented
 * error replies show), `errors` only when it holds something (an empty `errors` key makes some
 * official clients treat a success as a failure).
 */
export function replyEnvelope(outcomes: readonly SerializedOutcome[]): string {
  const data: string[] = [];
  const errors: string[] = [];
  for (const o of outcomes) {
    for (const d of o.data) data.push(d);
    for (const e of o.errors) errors.push(e);
  }
  return errors.length > 0 ? `{"data":[${data.join(',')}],"errors":[${errors.join(',')}]}` : `{"data":[${data.join(',')}]}`;
}

/**
 * Splits a stored task envelope back into item texts. The envelope was written by taskEnvelope
 * from JSON.stringify output, and JSON.stringify(JSON.parse(t)) === t holds for such text, so the
 * items come back byte-identical.
 */
export function outcomeFromEnvelope(envelope: string): SerializedOutcome {
  const parsed = JSON.parse(envelope) as { data?: unknown[]; errors?: unknown[] };
  return {
    data: (parsed.data ?? []).map((d) => JSON.stringify(d)),
    errors: (parsed.errors ?? []).map((e) => JSON.stringify(e)),
  };
}
