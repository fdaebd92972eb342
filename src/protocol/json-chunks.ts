// JSON text in pieces, for answers and export lines that carry texts of any size (a 30 MiB
// request, a media file as base64). JSON.stringify of such a value builds the whole escaped copy
// at once, beside the text itself, and the socket or file then takes a third copy as bytes; the
// pieces below are the same text, cut so that no piece is larger than about `pieceChars`.
//
// What comes out, joined, is exactly JSON.stringify(value) for the plain data the server writes
// (objects, arrays, strings, finite numbers, booleans, null; undefined members left out as
// JSON.stringify leaves them). A long string is escaped slice by slice, never between the two
// halves of a surrogate pair, so its escapes are the ones JSON.stringify would write.

const DEFAULT_PIECE_CHARS = 1 << 20;

/** `value` as JSON text, in pieces of about `pieceChars` characters at most (long strings are cut). */
export function* jsonPieces(value: unknown, pieceChars = DEFAULT_PIECE_CHARS): Generator<string> {
  if (typeof value === 'string') {
    yield* stringPieces(value, pieceChars);
    return;
  }
  if (Array.isArray(value)) {
    yield '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) yield ',';
      const v: unknown = value[i];
      // JSON.stringify writes null for a member it cannot write inside an array.
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') yield 'null';
      else yield* jsonPieces(v, pieceChars);
    }
    yield ']';
    return;
  }
  if (typeof value === 'object' && value !== null && !hasToJSON(value)) {
    yield '{';
    let first = true;
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      yield `${first ? '' : ','}${JSON.stringify(k)}:`;
      first = false;
      yield* jsonPieces(v, pieceChars);
    }
    yield '}';
    return;
  }
  // Numbers, booleans, null, and objects that serialize themselves (Date): as JSON.stringify does.
  yield JSON.stringify(value);
}

/** A string as a JSON string literal, in slices; small strings come out in one piece. */
export function* stringPieces(text: string, pieceChars = DEFAULT_PIECE_CHARS): Generator<string> {
  if (text.length <= pieceChars) {
    yield JSON.stringify(text);
    return;
  }
  yield '"';
  for (let at = 0; at < text.length;) {
    let end = Math.min(at + pieceChars, text.length);
    // Not between a high and a low surrogate: each would be escaped on its own.
    // (Back one, or on one when the slice is that one character.)
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1)) && isLowSurrogate(text.charCodeAt(end)))
      end += end - 1 > at ? -1 : 1;
    yield JSON.stringify(text.slice(at, end)).slice(1, -1);
    at = end;
  }
  yield '"';
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function hasToJSON(value: object): boolean {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}
