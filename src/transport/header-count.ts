// How many header lines a request may carry. Node's parser silently keeps only about the first
// 1 000 of them, so a request with more would run with some of its headers missing. The parser is
// told to keep them all (the 16 KiB limit on the header block bounds how many there can be), and
// a request with more than MAX_HEADER_COUNT is refused with 431 headersTooLarge instead.

import { ProtocolError } from '../protocol/errors.js';

export const MAX_HEADER_COUNT = 1_000;
/** What the parser keeps: more than the 16 KiB header block can hold (a line is at least 4 bytes). */
export const PARSER_HEADER_COUNT = 8_192;

export function tooManyHeaders(): ProtocolError {
  return new ProtocolError('headersTooLarge', { limit: `more than ${MAX_HEADER_COUNT} header lines` });
}
