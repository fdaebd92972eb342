// Reads a request body (a JSON array of task objects) into its elements, keeping each element's
// exact source text beside its parsed value. The ledger stores the source text, so recall is
// byte-exact: JSON.parse followed by JSON.stringify would reorder integer-like keys, rewrite
// `1.0`/`1e3`/`-0` and lose digits of large integers.
//
// One pass over the text finds the top-level element boundaries and the nesting depth; the
// platform's JSON.parse then checks the syntax and yields the values. No maintained library
// exposes element source offsets at JSON.parse speed (see docs/protocol.md), hence this scanner.

import { ProtocolError } from './errors.js';

export interface RequestElement {
  /** The element's text exactly as it appeared in the body (no surrounding whitespace). */
  source: string;
  value: unknown;
}

export interface ReaderLimits {
  maxTasks: number;
  maxDepth: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function decodeBody(body: Uint8Array): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new ProtocolError('invalidJSON', { reason: 'it is not UTF-8 text' });
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;

function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Splits `text` (a JSON array) into its elements. Throws ProtocolError with `invalidJSON`,
 * `invalidPayload`, `payloadTooDeep` or `tooManyTasks`.
 */
export function readTaskArray(text: string, limits: ReaderLimits): RequestElement[] {
  // Boundaries of depth-1 elements: the index just after '[' or each depth-1 ',' and the
  // index of each depth-1 ',' or the closing ']'.
  const cuts: number[] = [];
  let depth = 0;
  let maxDepth = 0;
  let firstNonSpace = -1;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
      if (i < 0) break; // unterminated: JSON.parse below reports it
      continue;
    }
    if (firstNonSpace < 0 && !isJsonWhitespace(c)) firstNonSpace = i;
    if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      depth++;
      if (depth > maxDepth) {
        maxDepth = depth;
        if (maxDepth > limits.maxDepth) {
          throw new ProtocolError('payloadTooDeep', { max: limits.maxDepth });
        }
      }
      if (depth === 1) cuts.push(i + 1);
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      if (depth === 1) cuts.push(i);
      depth--;
    } else if (c === COMMA && depth === 1) {
      cuts.push(i, i + 1);
      if (cuts.length / 2 > limits.maxTasks) {
        throw new ProtocolError('tooManyTasks', { what: 'request', max: limits.maxTasks });
      }
    }
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : 'syntax error';
    throw new ProtocolError('invalidJSON', { reason: detail });
  }
  if (!Array.isArray(parsed) || text.charCodeAt(firstNonSpace) !== OPEN_BRACKET) {
    throw new ProtocolError('invalidPayload', { reason: 'the body must be a JSON array of task objects' });
  }
  if (parsed.length === 0) {
    throw new ProtocolError('invalidPayload', { reason: 'the array is empty; send at least one task object' });
  }
  if (parsed.length > limits.maxTasks) {
    throw new ProtocolError('tooManyTasks', { what: 'request', max: limits.maxTasks });
  }
  if (cuts.length !== parsed.length * 2) {
    // Cannot happen for text JSON.parse accepted; guard against a scanner defect all the same.
    throw new ProtocolError('invalidJSON', { reason: 'it could not be split into task objects' });
  }
  const out = new Array<RequestElement>(parsed.length);
  for (let k = 0; k < parsed.length; k++) {
    let start = cuts[2 * k]!;
    let end = cuts[2 * k + 1]!;
    while (start < end && isJsonWhitespace(text.charCodeAt(start))) start++;
    while (end > start && isJsonWhitespace(text.charCodeAt(end - 1))) end--;
    out[k] = { source: text.slice(start, end), value: parsed[k] };
  }
  return out;
}

/**
 * The texts of the elements of the (valid) JSON array whose '[' is at `open`, and the index of
 * its closing ']'. For text runtrail wrote itself, e.g. stored envelopes.
 */
export function arrayElementTexts(text: string, open: number): { elements: string[]; close: number } {
  const elements: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
      if (i < 0) break;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      depth++;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
      if (depth === 0) {
        const last = text.slice(start, i).trim();
        if (last.length > 0) elements.push(last);
        return { elements, close: i };
      }
    } else if (c === COMMA && depth === 1) {
      elements.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  throw new Error('unterminated JSON array');
}

/** Index of the closing quote of the string opening at `open`, or -1 when unterminated. */
export function endOfString(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const close = text.indexOf('"', from);
    if (close < 0) return -1;
    let backslashes = 0;
    for (let j = close - 1; j > open && text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return close;
    from = close + 1;
  }
}
