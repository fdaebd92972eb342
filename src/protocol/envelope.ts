// Response envelopes, built from item texts that were serialized exactly once. The same texts
// go to the ledger and onto the wire, so what getTaskDetails returns is what the caller got.

import { randomBytes } from 'node:crypto';

/** One task's outcome as serialized item texts. */
export interface SerializedOutcome {
  data: string[];
  errors: string[];
}

// BigInt values (seeds above 2^53) are written as exact JSON integers: JSON.stringify cannot, so
// they pass through as marked strings and the marks are replaced by the digits afterwards.
const BIGINT_MARK = `\u0000rt-bigint-${randomBytes(6).toString('hex')}:`;
const BIGINT_MARKED = new RegExp(`"${JSON.stringify(BIGINT_MARK).slice(1, -1).replace(/\\/g, '\\\\')}(-?\\d+)"`, 'g');

/** Serializes one result item, once: the text that goes both to the ledger and to the wire. */
export function serializeItem(item: object): string {
  let marked = false;
  const text = JSON.stringify(item, (_key, value: unknown) => {
    if (typeof value !== 'bigint') return value;
    marked = true;
    return `${BIGINT_MARK}${value}`;
  });
  return marked ? text.replace(BIGINT_MARKED, '$1') : text;
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
