// Stored envelopes split back into the exact item texts that built them (the idempotent replay
// and getResponse rely on it), including exact integers beyond 2^53 written by serializeItem.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { outcomeFromEnvelope, serializeItem, taskEnvelope } from '../src/protocol/envelope.js';
import { guardOpenHandles } from './helpers/open-handles.js';

test('taskEnvelope -> outcomeFromEnvelope gives back every item text unchanged', () => {
  const item = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 });
  const bigSeed = fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(item, bigSeed), { maxLength: 5 }),
      fc.array(item, { maxLength: 3 }),
      (data, errors) => {
        const outcome = {
          data: data.map(([fields, seed]) => serializeItem({ ...fields, seed })),
          errors: errors.map((e) => serializeItem(e)),
        };
        const back = outcomeFromEnvelope(taskEnvelope(outcome));
        assert.deepEqual(back, outcome);
        for (const [i, [, seed]] of data.entries()) assert.ok(back.data[i]!.includes(`"seed":${seed}`));
      },
    ),
    { seed: 424242, numRuns: 300 },
  );
});

guardOpenHandles();
