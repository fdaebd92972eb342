// The `text` filter of the task history, as a word index can answer it. A task matches when its
// request text contains the search text, ignoring case, at the start of a word (a word is a run
// of letters and digits): `light` finds "lighthouse", `house` does not. The index (SQLite: FTS5,
// migration 9) lists the tasks holding every word of the search text; only when the search text
// holds more than one word, or anything besides letters and digits, are those candidates read
// to check the exact text, so a one-word search never unpacks a stored request.

/** Letters, digits and private-use characters: what SQLite's unicode61 tokenizer keeps in a word. */
const WORD_CHAR = /[\p{L}\p{N}\p{Co}]/u;
const WORDS = /[\p{L}\p{N}\p{Co}]+/gu;

export interface WordSearch {
  /** The FTS5 query: every word, the last one as a prefix unless the search text ends after it. */
  match: string;
  /** The search text lower-cased, when candidates must be checked against it; undefined when the index answers exactly. */
  check: string | undefined;
}

/** True when `text` holds at least one word, which a text search needs. */
export function hasWord(text: string): boolean {
  return WORD_CHAR.test(text);
}

/** True when a match of `text` must begin at a word start (it begins with a letter or digit). */
export function startsWithWordChar(text: string): boolean {
  return WORD_CHAR.test(text[0] ?? '');
}

export function wordSearch(text: string): WordSearch {
  const words = text.match(WORDS) ?? [];
  if (words.length === 0) throw new Error('a text search needs a word (checked by parseTaskFilter)');
  const endsInWord = WORD_CHAR.test(text.at(-1) ?? '');
  // Quoted, so the tokenizer reads each word the way it read the stored texts.
  const terms = words.map((w, i) => `"${w.replace(/"/g, '""')}"${i === words.length - 1 && endsInWord ? ' *' : ''}`);
  const exact = words.length === 1 && words[0] === text;
  return { match: terms.join(' AND '), check: exact ? undefined : text.toLowerCase() };
}

/**
 * Whether `haystack` contains `needle` (already lower-cased) ignoring case, at a word start when
 * the needle begins with a letter or digit. (A needle that begins otherwise starts no word.)
 */
export function containsAtWordStart(haystack: string, needle: string): boolean {
  const text = haystack.toLowerCase();
  const anchored = startsWithWordChar(needle);
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
    if (!anchored || at === 0 || !isWordChar(text, at - 1)) return true;
  }
  return false;
}

function isWordChar(text: string, index: number): boolean {
  // The character ending just before `index` (a surrogate pair counts as one).
  const code = text.charCodeAt(index);
  const char = code >= 0xdc00 && code <= 0xdfff && index > 0 ? text.slice(index - 1, index + 1) : text[index]!;
  return WORD_CHAR.test(char);
}
