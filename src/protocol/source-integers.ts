// Integers read from a task's source text rather than from its parsed value. JSON.parse turns
// every number into a double, so an integer above 2^53 (a seed such as 9007199254740993) comes
// out rounded; the request reader keeps each task's exact source, and this reads the digits the
// caller actually sent.

import { ProtocolError } from './errors.js';
import { endOfString } from './request-reader.js';

const INTEGER = /-?(?:0|[1-9]\d*)(?![.eE\d])/y;
const WHITESPACE = /[ \t\n\r]*/y;

/**
 * The source text of member `name` of the JSON object whose text is `source` (top level only),
 * when its value is an integer literal; undefined otherwise. The last occurrence wins, as in
 * JSON.parse. `source` must be text JSON.parse accepted.
 */
export function integerMemberText(source: string, name: string): string | undefined {
  let depth = 0;
  let keyNext = false;
  let found: string | undefined;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x22) {
      const close = endOfString(source, i);
      if (close < 0) return undefined;
      if (depth === 1 && keyNext) {
        keyNext = false;
        if ((JSON.parse(source.slice(i, close + 1)) as string) === name) found = integerAfterColon(source, close + 1);
      }
      i = close;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth === 1) keyNext = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c && depth === 1) {
      keyNext = true;
    }
  }
  return found;
}

function integerAfterColon(source: string, from: number): string | undefined {
  WHITESPACE.lastIndex = from;
  WHITESPACE.exec(source);
  if (source.charCodeAt(WHITESPACE.lastIndex) !== 0x3a) return undefined;
  WHITESPACE.lastIndex += 1;
  WHITESPACE.exec(source);
  INTEGER.lastIndex = WHITESPACE.lastIndex;
  return INTEGER.exec(source)?.[0];
}

/** The largest seed: a signed 64-bit integer. */
export const MAX_SEED = 2n ** 63n - 1n;

/**
 * A task's `seed` exactly as sent: the digits of its source text (`requestText` is the recorded
 * `[<task object>]`), or the validated value when the text holds none. Undefined without a seed.
 */
export function exactSeed(requestText: string | undefined, validated: number | undefined): bigint | undefined {
  if (validated === undefined) return undefined;
  const text = requestText !== undefined ? integerMemberText(requestText.slice(1, -1), 'seed') : undefined;
  const seed = text !== undefined ? BigInt(text) : BigInt(validated);
  if (seed > MAX_SEED) {
    throw new ProtocolError(
      'invalidSeed',
      { parameter: 'seed', reason: `It must be an integer from 1 to ${MAX_SEED}.` },
      {
        parameter: 'seed',
        type: 'integer',
      },
    );
  }
  return seed;
}
