// Request and response texts stored out of line (docs/performance.md, "Large bodies"). A text
// above the threshold, or holding a long base64 run (an image given as base64 or a data URI),
// is cut into segments: short literal runs stay in the task row, and the long pieces go to a
// content-addressed blob table beside the tasks, each stored once however many tasks hold it.
// A task sending the same input image a thousand times stores it once.
//
// A text's segments, in order, concatenate to the exact text. A segment is a literal string, or
// a blob reference [hash, length]: the hash names the blob, the length (UTF-16 code units) lets
// recall check it got the piece it expected. Each blob holds one piece of at most CHUNK_CHARS
// characters, so recall reads and decodes one piece at a time and the whole text is only ever
// held once, as the string being built.
//
// A blob's bytes are the piece in one of three encodings, chosen so the piece comes back exactly:
// base64 that re-encodes to itself is stored decoded (three quarters of the size), other text as
// UTF-8, and text holding a lone surrogate (which UTF-8 cannot carry) as UTF-16LE.

import { createHash } from 'node:crypto';

/** A run of base64 characters at least this long is a payload worth storing on its own. */
export const PAYLOAD_MIN_CHARS = 8 * 1024;
/** Literal runs longer than this go to blobs as well, so a task row never holds a large text. */
const LITERAL_INLINE_MAX_CHARS = 16 * 1024;
/** The largest piece one blob holds (a multiple of 4: base64 pieces decode on their own). */
export const CHUNK_CHARS = 1024 * 1024;
/** The searchable copy of a split text kept in the row (its literal runs) is cut at this length. */
const SEARCH_TEXT_MAX_CHARS = 64 * 1024;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const BlobEncoding = { Utf8: 0, Base64Decoded: 1, Utf16le: 2 } as const;
export type BlobEncoding = (typeof BlobEncoding)[keyof typeof BlobEncoding];

export interface TextBlob {
  /** SHA-256 (hex) of the encoding byte followed by the stored bytes. */
  hash: string;
  encoding: BlobEncoding;
  bytes: Buffer;
}

export type TextSegment = string | [hash: string, length: number];

export interface SplitText {
  /** The manifest kept in the row: the segments as JSON. */
  parts: string;
  /** The literal runs joined (cut at a bound): what text search looks in. */
  searchText: string;
  /** The blobs the segments name, each once. */
  blobs: TextBlob[];
}

/**
 * Splits a text to store out of line, or returns undefined when it stays in the row: at most
 * `thresholdBytes` of UTF-8 and no payload in it.
 */
export function splitText(text: string, thresholdBytes: number): SplitText | undefined {
  const payloads = text.length >= PAYLOAD_MIN_CHARS ? base64Runs(text) : [];
  if (payloads.length === 0 && !aboveThreshold(text, thresholdBytes)) return undefined;
  const segments: TextSegment[] = [];
  const blobs = new Map<string, TextBlob>();
  let search = '';
  const addBlob = (piece: string, blob: TextBlob) => {
    blobs.set(blob.hash, blob);
    segments.push([blob.hash, piece.length]);
  };
  const addLiteral = (literal: string) => {
    if (literal.length === 0) return;
    if (search.length < SEARCH_TEXT_MAX_CHARS) search += literal.slice(0, SEARCH_TEXT_MAX_CHARS - search.length);
    if (literal.length <= LITERAL_INLINE_MAX_CHARS) {
      segments.push(literal);
      return;
    }
    for (const piece of literalPieces(literal)) addBlob(piece, literalBlob(piece));
  };
  let at = 0;
  for (const [runStart, runEnd] of payloads) {
    addLiteral(text.slice(at, runStart));
    for (let start = runStart; start < runEnd; start += CHUNK_CHARS) {
      const piece = text.slice(start, Math.min(start + CHUNK_CHARS, runEnd));
      addBlob(piece, payloadBlob(piece));
    }
    at = runEnd;
  }
  addLiteral(text.slice(at));
  return { parts: JSON.stringify(segments), searchText: cutAtCodePoint(search), blobs: [...blobs.values()] };
}

/** Whether splitText would store the text out of line (without building anything). */
export function goesOutOfLine(text: string, thresholdBytes: number): boolean {
  if (aboveThreshold(text, thresholdBytes)) return true;
  return text.length >= PAYLOAD_MIN_CHARS && base64Runs(text, 1).length > 0;
}

/**
 * Where the runs of at least PAYLOAD_MIN_CHARS base64 characters (with up to two `=` after
 * them) are: [start, end) pairs, at most `limit` of them. Each step looks for one character
 * (the next that is, or is not, base64): a repeated pattern over tens of megabytes would run
 * V8's matcher out of stack, and a loop over the characters in JavaScript is slower.
 */
function base64Runs(text: string, limit = Infinity): [number, number][] {
  const runs: [number, number][] = [];
  const base64 = /[A-Za-z0-9+/]/g;
  const other = /[^A-Za-z0-9+/]/g;
  let at = 0;
  while (at < text.length && runs.length < limit) {
    base64.lastIndex = at;
    const start = base64.exec(text)?.index;
    if (start === undefined) break;
    other.lastIndex = start;
    let end = other.exec(text)?.index ?? text.length;
    at = end;
    if (end - start < PAYLOAD_MIN_CHARS) continue;
    if (text.charCodeAt(end) === EQUALS) end += text.charCodeAt(end + 1) === EQUALS ? 2 : 1;
    runs.push([start, end]);
    at = end;
  }
  return runs;
}

const EQUALS = 0x3d;

function aboveThreshold(text: string, thresholdBytes: number): boolean {
  // UTF-8 takes 1 to 3 bytes per UTF-16 code unit: the length alone decides most cases.
  if (text.length > thresholdBytes) return true;
  return text.length > thresholdBytes / 3 && Buffer.byteLength(text) > thresholdBytes;
}

/** The hashes a manifest names, each once. */
export function blobHashes(parts: string): string[] {
  const hashes = new Set<string>();
  for (const segment of parseParts(parts)) if (typeof segment !== 'string') hashes.add(segment[0]);
  return [...hashes];
}

/** The exact text of a manifest, reading each blob's piece with `pieceOf`. */
export function assembleText(parts: string, pieceOf: (hash: string) => string): string {
  let text = '';
  for (const segment of parseParts(parts)) {
    if (typeof segment === 'string') {
      text += segment;
      continue;
    }
    const [hash, length] = segment;
    const piece = pieceOf(hash);
    if (piece.length !== length)
      throw new Error(`text blob ${hash} holds ${String(piece.length)} characters, not ${String(length)}`);
    text += piece;
  }
  return text;
}

/** A stored blob's piece of text. */
export function blobPiece(encoding: number, bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (encoding) {
    case BlobEncoding.Utf8:
      return buffer.toString('utf8');
    case BlobEncoding.Base64Decoded:
      return buffer.toString('base64');
    case BlobEncoding.Utf16le:
      return buffer.toString('utf16le');
    default:
      throw new Error(`unknown text blob encoding ${String(encoding)}`);
  }
}

function parseParts(parts: string): TextSegment[] {
  return JSON.parse(parts) as TextSegment[];
}

function payloadBlob(piece: string): TextBlob {
  if (isCanonicalBase64(piece)) return blobOf(BlobEncoding.Base64Decoded, Buffer.from(piece, 'base64'));
  return blobOf(BlobEncoding.Utf8, Buffer.from(piece, 'latin1'));
}

/**
 * Whether decoding `piece` and encoding the bytes again gives `piece` back. Its characters are
 * all base64 (with `=` only at the end), so that holds when its length is a multiple of 4 and,
 * where it ends in padding, the bits the padding leaves unused are zero.
 */
function isCanonicalBase64(piece: string): boolean {
  if (piece.length % 4 !== 0) return false;
  const padding = piece.endsWith('==') ? 2 : piece.endsWith('=') ? 1 : 0;
  if (padding === 0) return true;
  const last = BASE64_ALPHABET.indexOf(piece.charAt(piece.length - padding - 1));
  return (last & (padding === 2 ? 0b1111 : 0b11)) === 0;
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function literalBlob(piece: string): TextBlob {
  return LONE_SURROGATE.test(piece)
    ? blobOf(BlobEncoding.Utf16le, Buffer.from(piece, 'utf16le'))
    : blobOf(BlobEncoding.Utf8, Buffer.from(piece, 'utf8'));
}

function blobOf(encoding: BlobEncoding, bytes: Buffer): TextBlob {
  const hash = createHash('sha256').update(Uint8Array.of(encoding)).update(bytes).digest('hex');
  return { hash, encoding, bytes };
}

/** Pieces of at most CHUNK_CHARS, never cutting a surrogate pair in two. */
function* literalPieces(literal: string): Generator<string> {
  let start = 0;
  while (start < literal.length) {
    let end = Math.min(start + CHUNK_CHARS, literal.length);
    if (end < literal.length && isHighSurrogate(literal.charCodeAt(end - 1))) end--;
    yield literal.slice(start, end);
    start = end;
  }
}

function cutAtCodePoint(text: string): string {
  return text.length > 0 && isHighSurrogate(text.charCodeAt(text.length - 1)) ? text.slice(0, -1) : text;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
