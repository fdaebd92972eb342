// Packed task texts (src/ledger/packed-texts.ts): byte-exact round trips for any text, plain
// storage where packing would lose or not pay, and the stored format pinned.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { PACK_DICTIONARY_V1, PACK_LIMIT_BYTES, packTexts, unpackTexts } from '../src/ledger/packed-texts.js';
import { guardOpenHandles } from './helpers/open-handles.js';

test('the dictionary is part of the stored format and never changes (a new one needs a new format byte)', () => {
  assert.equal(
    createHash('sha256').update(PACK_DICTIONARY_V1).digest('hex'),
    '61bbc2c506985e4e57d6d36aa9ea3a6ff9822f372beba30d90a0c46758aafe27',
  );
});

test('any well-formed request and response come back byte for byte', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'grapheme', maxLength: 400 }),
      fc.string({ unit: 'binary', maxLength: 400 }),
      (a, b) => {
        const request = `{"taskType":"imageInference","taskUUID":"${randomUUID()}","positivePrompt":${JSON.stringify(a)}}`;
        const response = `{"data":[{"taskType":"imageInference","note":${JSON.stringify(b)}}]}`;
        const packed = packTexts(request, response);
        if (packed === undefined) return; // stays plain: nothing to check here
        assert.deepEqual(unpackTexts(packed), { requestText: request, responseText: response });
      },
    ),
    { numRuns: 500 },
  );
});

test('a typical small task packs to well under half its size', () => {
  const uuid = randomUUID();
  const image = randomUUID();
  const request = `{"taskType":"imageInference","taskUUID":"${uuid}","model":"runware:101@1","positivePrompt":"a lighthouse at dusk","width":128,"height":128,"includeCost":true}`;
  const response = `{"data":[{"taskType":"imageInference","taskUUID":"${uuid}","imageUUID":"${image}","imageURL":"http://127.0.0.1:8080/media/Q2xhdWRlIHdhcyBoZXJlIQ/${image}.jpg","seed":4821937730462,"cost":0.0013}]}`;
  const packed = packTexts(request, response)!;
  assert.ok(packed, 'packed');
  const raw = Buffer.byteLength(request) + Buffer.byteLength(response);
  assert.ok(packed.length < raw * 0.5, `${packed.length} bytes from ${raw}`);
  assert.deepEqual(unpackTexts(packed), { requestText: request, responseText: response });
});

test('texts stay plain when packing would lose them or not pay', () => {
  assert.equal(
    packTexts('{"positivePrompt":"\ud800"}', '{"data":[]}'),
    undefined,
    'a lone surrogate does not survive UTF-8',
  );
  assert.equal(
    packTexts('x'.repeat(PACK_LIMIT_BYTES), '{}'),
    undefined,
    'large texts are not compressed on the event loop',
  );
  const noise = Buffer.from(Array.from({ length: 60 }, (_, i) => (i * 7919) % 251)).toString('base64');
  assert.equal(packTexts(noise, ''), undefined, 'incompressible text is kept as it is');
});

test('an unknown format byte is refused, not misread', () => {
  const packed = packTexts(
    '{"taskType":"modelSearch","taskUUID":"x"}',
    '{"data":[{"taskType":"modelSearch","taskUUID":"x"}]}',
  )!;
  packed[0] = 9;
  assert.throws(() => unpackTexts(packed), /unknown packed task format 9/);
});

guardOpenHandles();
