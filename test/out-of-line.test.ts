// The cutting of large texts into pieces (src/ledger/out-of-line.ts): whatever the text (base64
// runs of any length and padding, non-canonical base64, long literal text with emoji and lone
// surrogates), its pieces put back together are the same string, and the pieces of a shared
// image are the same pieces wherever it appears. The ledger suites test the storage around it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import {
  CHUNK_CHARS,
  PAYLOAD_MIN_CHARS,
  assembleText,
  blobHashes,
  blobPiece,
  goesOutOfLine,
  splitText,
} from '../src/ledger/out-of-line.js';
import { guardOpenHandles } from './helpers/open-handles.js';

function roundTrip(text: string, threshold: number): string[] {
  const split = splitText(text, threshold);
  assert.equal(goesOutOfLine(text, threshold), split !== undefined, 'goesOutOfLine agrees with splitText');
  if (!split) return [];
  const pieces = new Map(split.blobs.map((b) => [b.hash, blobPiece(b.encoding, b.bytes)]));
  assert.deepEqual(blobHashes(split.parts).sort(), [...pieces.keys()].sort());
  const back = assembleText(split.parts, (hash) => pieces.get(hash)!);
  assert.ok(back === text, 'the pieces give the text back');
  assert.ok(split.searchText.length <= 64 * 1024);
  return split.blobs.map((b) => b.hash);
}

const LITERALS = ['"', ' ', 'ж', '🌊', '\uD800', '\uDC00', 'plain words ', '\\u0000', '='];

function randomText(): string {
  let text = '[{"taskType":"imageInference"';
  const parts = randomInt(1, 6);
  for (let p = 0; p < parts; p++) {
    if (randomInt(2) === 0) {
      const length = randomInt(1, 3 * PAYLOAD_MIN_CHARS);
      text +=
        ',"seedImage":"data:image/png;base64,' +
        randomBytes(length)
          .toString('base64')
          .slice(0, randomInt(1, length * 2));
      // Non-canonical tails too: stray padding, a cut quantum.
      text += ['', '=', '==', '===', 'A=', 'AB=='][randomInt(6)]! + '"';
    } else {
      let literal = '';
      const count = randomInt(1, 40_000);
      for (let i = 0; i < count; i++) literal += LITERALS[randomInt(LITERALS.length)]!;
      text += ',"positivePrompt":"' + literal + '"';
    }
  }
  return text + '}]';
}

test('random texts come back exactly, at several thresholds', () => {
  for (let i = 0; i < 60; i++) {
    const text = randomText();
    for (const threshold of [1024, 64 * 1024, 1 << 30]) roundTrip(text, threshold);
  }
});

test('small texts without a long base64 run stay whole', () => {
  assert.equal(splitText('[{"taskType":"ping"}]', 64 * 1024), undefined);
  assert.equal(splitText('x'.repeat(PAYLOAD_MIN_CHARS - 1), 64 * 1024), undefined, 'a run just too short');
  assert.ok(splitText(`"${'x'.repeat(PAYLOAD_MIN_CHARS)}"`, 64 * 1024), 'a run just long enough');
  // UTF-8 bytes decide, not characters: 30 000 Cyrillic letters are 60 000 bytes.
  assert.equal(splitText('ж'.repeat(30_000), 64 * 1024), undefined);
  assert.ok(splitText('ж'.repeat(40_000), 64 * 1024));
});

test('the same image gives the same pieces in different texts; canonical base64 is stored decoded', () => {
  const image = randomBytes(3 * CHUNK_CHARS).toString('base64');
  const a = roundTrip(`[{"prompt":"one","seedImage":"${image}"}]`, 64 * 1024);
  const b = roundTrip(`[{"seedImage":"data:image/png;base64,${image}","prompt":"two, longer"}]`, 64 * 1024);
  assert.deepEqual(a, b);
  const split = splitText(`"${image}"`, 64 * 1024)!;
  const stored = split.blobs.reduce((n, blob) => n + blob.bytes.length, 0);
  assert.equal(stored, Buffer.from(image, 'base64').length);
});

test('a 30 MiB text is cut into pieces of at most 1 MiB', () => {
  const text = `[{"seedImage":"${randomBytes(23 * CHUNK_CHARS).toString('base64')}","prompt":"${'🌊'.repeat(CHUNK_CHARS)}"}]`;
  const split = splitText(text, 64 * 1024)!;
  for (const blob of split.blobs) assert.ok(blobPiece(blob.encoding, blob.bytes).length <= CHUNK_CHARS);
  roundTrip(text, 64 * 1024);
});

guardOpenHandles();
