// JSON in pieces (src/protocol/json-chunks.ts): joined, the pieces are exactly JSON.stringify of
// the value, for the shapes the export and the history API write, with strings cut anywhere,
// surrogate pairs, lone surrogates and characters JSON escapes included.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonPieces, stringPieces } from '../src/protocol/json-chunks.js';
import { guardOpenHandles } from './helpers/open-handles.js';
import { seededRandom as random } from './helpers/timing.js';

const ALPHABET = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\t', '\u0001', '\u2028', 'é', '😀', '\ud800', '\udc00', '/'];

function randomString(next: () => number, max: number): string {
  let s = '';
  const n = Math.floor(next() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)]!;
  return s;
}

function randomValue(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 2 ? 5 : 7));
  switch (pick) {
    case 0:
      return randomString(next, 40);
    case 1:
      return Math.floor(next() * 1e6) / 8 - 1000;
    case 2:
      return next() < 0.5;
    case 3:
      return null;
    case 4:
      return randomString(next, 200);
    case 5:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 4); i > 0; i--) o[randomString(next, 6)] = randomValue(next, depth + 1);
      if (next() < 0.3) o['skipped'] = undefined;
      return o;
    }
  }
}

test('joined pieces equal JSON.stringify, for strings cut at every size', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const next = random(seed);
    const text = randomString(next, 300);
    for (const size of [1, 2, 3, 7, 64]) {
      const pieces = [...stringPieces(text, size)];
      assert.equal(pieces.join(''), JSON.stringify(text), `seed ${seed}, pieces of ${size}`);
      // No piece of a cut string is much larger than asked (an escape is at most 6 characters each).
      if (text.length > size) for (const p of pieces) assert.ok(p.length <= size * 6 + 2, `seed ${seed}`);
    }
  }
});

test('joined pieces equal JSON.stringify, for objects and arrays holding long strings', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const value = randomValue(random(seed), 0);
    assert.equal([...jsonPieces(value, 5)].join(''), JSON.stringify(value), `seed ${seed}`);
  }
  const line = { taskUUID: 'x', requestText: 'a'.repeat(3000), media: [{ data: 'QUJD'.repeat(900), at: undefined }] };
  const pieces = [...jsonPieces(line, 1000)];
  assert.equal(pieces.join(''), JSON.stringify(line));
  assert.ok(Math.max(...pieces.map((p) => p.length)) <= 1002, 'the long strings come out in slices');
});

test('an array member JSON cannot write becomes null, and objects that serialize themselves do so', () => {
  const value = { at: new Date(0), list: [undefined, 1, () => 2], gone: undefined };
  assert.equal([...jsonPieces(value, 4)].join(''), JSON.stringify(value));
});

guardOpenHandles();
