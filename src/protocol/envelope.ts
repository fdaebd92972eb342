// Response envelopes, built from item texts that were serialized exactly once. The same texts
// go to the ledger and onto the wire, so what getTaskDetails returns is what the caller got.

import { randomBytes } from 'node:crypto';
import { arrayElementTexts } from './request-reader.js';

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
  // Without a replacer JSON.stringify is several times faster on a large item (a modelSearch
  // answer carries each model's rules); it throws on a BigInt, and only then is the replacer used.
  try {
    return JSON.stringify(item);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
  }
  let marked = false;
  const text = JSON.stringify(item, (_key, value: unknown) => {
    if (typeof value !== 'bigint') return value;
    marked = true;
    return `${BIGINT_MARK}${value}`;
  });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the replacer above sets it
  return marked ? text.replace(BIGINT_MARKED, '$1') : text;
}

/**
 * The envelope of one task as recorded in the ledger (docs/protocol.md, "What is recorded"): `{"data":[…]}`,
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
  return errors.length > 0
    ? `{"data":[${data.join(',')}],"errors":[${errors.join(',')}]}`
    : `{"data":[${data.join(',')}]}`;
}

/**
 * Splits a stored task envelope (as written by taskEnvelope) back into its item texts, by
 * position and without parsing values, so the items come back byte-identical — including exact
 * integers beyond 2^53, which a JSON.parse/JSON.stringify round trip would round.
 */
export function outcomeFromEnvelope(envelope: string): SerializedOutcome {
  const outcome: SerializedOutcome = { data: [], errors: [] };
  let at = 1; // just after '{'
  while (at < envelope.length - 1) {
    const open = envelope.indexOf('":[', at);
    if (open < 0) throw new Error('stored response is not a task envelope');
    const key = envelope.slice(at + 1, open);
    const { elements, close } = arrayElementTexts(envelope, open + 2);
    if (key === 'data') outcome.data.push(...elements);
    else if (key === 'errors') outcome.errors.push(...elements);
    at = close + 2; // past ']' and the ',' before the next key
  }
  return outcome;
}
