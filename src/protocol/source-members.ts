// Editing a JSON object's source text without re-serializing it: the upstream engine forwards the
// caller's task object as written (numbers, escapes, key order and spacing) with only some members
// removed and one member's value replaced. The text is cut at its top-level commas; each piece is
// one member with the whitespace around it, so removing a member removes its piece and one comma,
// and every byte of what stays is the caller's.

import { endOfString } from './request-reader.js';

/** One top-level member of an object's source text. */
interface MemberPiece {
  /** The member's name, decoded (`"webhook\u0055RL"` is `webhookURL`). */
  name: string;
  /** Offsets of the piece between the commas (or braces) around it, whitespace included. */
  start: number;
  end: number;
  /** Offsets of the member's value inside the piece. */
  valueStart: number;
  valueEnd: number;
}

export interface MemberEdits {
  /** Members to leave out, every occurrence (duplicates too). */
  remove: readonly string[];
  /** Members whose value text is replaced (every occurrence), by name: the new value's JSON text. */
  replace: Readonly<Record<string, string>>;
}

/**
 * `source` (the text of one JSON object, which JSON.parse accepted) with `edits` applied, built
 * only from the source's own pieces; undefined when the text is not an object.
 */
export function editMembers(source: string, edits: MemberEdits): string | undefined {
  const open = source.indexOf('{');
  const close = source.lastIndexOf('}');
  if (open < 0 || close < open || source.slice(0, open).trim() !== '' || source.slice(close + 1).trim() !== '')
    return undefined;
  const pieces = memberPieces(source, open, close);
  if (pieces === undefined) return undefined;
  const kept: string[] = [];
  for (const p of pieces) {
    if (edits.remove.includes(p.name)) continue;
    const value = Object.hasOwn(edits.replace, p.name) ? edits.replace[p.name] : undefined;
    kept.push(
      value === undefined
        ? source.slice(p.start, p.end)
        : source.slice(p.start, p.valueStart) + value + source.slice(p.valueEnd, p.end),
    );
  }
  // An object whose every member went keeps the whitespace it had inside its braces, if any.
  const inside = kept.length > 0 ? kept.join(',') : pieces.length === 0 ? source.slice(open + 1, close) : '';
  return `${source.slice(0, open + 1)}${inside}${source.slice(close)}`;
}

/** The top-level member pieces of the object between `open` and `close`; undefined if malformed. */
function memberPieces(source: string, open: number, close: number): MemberPiece[] | undefined {
  const pieces: MemberPiece[] = [];
  let i = skipWhitespace(source, open + 1);
  if (i === close) return pieces;
  let start = open + 1;
  for (;;) {
    if (source.charCodeAt(i) !== 0x22) return undefined;
    const keyEnd = endOfString(source, i);
    if (keyEnd < 0) return undefined;
    const name = JSON.parse(source.slice(i, keyEnd + 1)) as string;
    i = skipWhitespace(source, keyEnd + 1);
    if (source.charCodeAt(i) !== 0x3a) return undefined;
    const valueStart = skipWhitespace(source, i + 1);
    const valueEnd = endOfValue(source, valueStart, close);
    if (valueEnd === undefined) return undefined;
    i = skipWhitespace(source, valueEnd);
    const c = source.charCodeAt(i);
    if (c !== 0x2c && i !== close) return undefined;
    pieces.push({ name, start, end: i, valueStart, valueEnd });
    if (i === close) return pieces;
    start = i + 1;
    i = skipWhitespace(source, i + 1);
  }
}

/** The offset just past the JSON value starting at `from` (an object, array, string or literal). */
function endOfValue(source: string, from: number, limit: number): number | undefined {
  const c = source.charCodeAt(from);
  if (c === 0x22) {
    const end = endOfString(source, from);
    return end < 0 ? undefined : end + 1;
  }
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let i = from; i < limit; i++) {
      const d = source.charCodeAt(i);
      if (d === 0x22) {
        i = endOfString(source, i);
        if (i < 0) return undefined;
      } else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return undefined;
  }
  // A number, true, false or null: up to the next delimiter.
  let i = from;
  while (i < limit && !/[\s,}\]]/.test(source[i]!)) i++;
  return i > from ? i : undefined;
}

function skipWhitespace(source: string, from: number): number {
  let i = from;
  while (i < source.length && /[ \t\n\r]/.test(source[i]!)) i++;
  return i;
}
