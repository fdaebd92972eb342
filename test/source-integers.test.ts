// Reading integers from a task's source text (seeds above 2^53 stay exact).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exactSeed, integerMemberText } from '../src/protocol/source-integers.js';
import { guardOpenHandles } from './helpers/open-handles.js';

test('the top-level member only, the last of duplicates, escaped names, integer literals only', () => {
  assert.equal(integerMemberText('{"seed":9007199254740993}', 'seed'), '9007199254740993');
  assert.equal(
    integerMemberText('{ "a" : {"seed":1}, "seed" :\n 12345678901234567890 }', 'seed'),
    '12345678901234567890',
  );
  assert.equal(integerMemberText('{"lora":[{"seed":5}],"x":"\\"seed\\":7"}', 'seed'), undefined);
  assert.equal(integerMemberText('{"seed":1,"seed":2}', 'seed'), '2');
  assert.equal(integerMemberText('{"s\\u0065ed":42}', 'seed'), '42');
  for (const notInteger of ['42.0', '1e3', '"42"', 'null', '-0.5']) {
    assert.equal(integerMemberText(`{"seed":${notInteger}}`, 'seed'), undefined, notInteger);
  }
  assert.equal(integerMemberText('{"seed":-3}', 'seed'), '-3');
});

test('exactSeed: the digits when the text has them, the validated value otherwise, refused above 2^63-1', () => {
  assert.equal(exactSeed('[{"seed":9007199254740993}]', 9007199254740992), 9007199254740993n);
  assert.equal(exactSeed('[{"seed":1e3}]', 1000), 1000n);
  assert.equal(exactSeed(undefined, 7), 7n);
  assert.equal(exactSeed('[{}]', undefined), undefined);
  // eslint-disable-next-line no-loss-of-precision -- the rounded number is what JSON.parse hands over
  assert.equal(exactSeed('[{"seed":9223372036854775807}]', 9223372036854775807), 9223372036854775807n);
  assert.throws(() => exactSeed('[{"seed":9223372036854775808}]', 9223372036854775808), /invalidSeed|seed/);
});

guardOpenHandles();
