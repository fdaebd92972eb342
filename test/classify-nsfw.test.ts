// The NSFW classifier operation on its own, in this thread, on real photos: ordinary photos are
// not NSFW, the scores are the network's (they differ per photo and sum to 1), both shipped
// networks run, and bytes that are no image are refused.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { OperationError } from '../src/engines/builtin/ops/operation-error.js';
import {
  NSFW_CLASSES,
  availability,
  isNsfw,
  run,
  type ClassifyNsfwOutput,
} from '../src/engines/builtin/ops/classify-nsfw.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const photo = (name: string) => readFileSync(new URL(`../../test/fixtures/photos/${name}`, import.meta.url));
const PHOTOS = ['astronaut-portrait.jpg', 'cat-face.jpg', 'coffee-cup-on-table.jpg'];

function assertScores(out: ClassifyNsfwOutput): void {
  assert.deepEqual(Object.keys(out.scores).sort(), [...NSFW_CLASSES].sort());
  const total = Object.values(out.scores).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 1e-3, `scores sum to ${total}`);
  assert.ok(Object.values(out.scores).every((p) => p >= 0 && p <= 1));
}

describe('classify-nsfw operation', () => {
  test('reports itself ready', () => {
    assert.deepEqual(availability(), { ready: true });
  });

  test('MobileNetV2: ordinary photos are Neutral and not NSFW, with scores that differ per photo', async () => {
    const results: ClassifyNsfwOutput[] = [];
    for (const name of PHOTOS) {
      const out = await run({ image: photo(name), network: 'mobilenet-v2' });
      assertScores(out);
      assert.equal(out.network, 'mobilenet-v2');
      assert.equal(out.nsfw, false, `${name}: ${JSON.stringify(out.scores)}`);
      assert.ok(out.scores.Neutral > 0.5, `${name}: ${JSON.stringify(out.scores)}`);
      results.push(out);
    }
    const neutral = new Set(results.map((r) => r.scores.Neutral));
    assert.equal(neutral.size, PHOTOS.length, 'each photo gets its own scores');
    // The same bytes give the same scores: the network is deterministic.
    const again = await run({ image: photo(PHOTOS[0]!), network: 'mobilenet-v2' });
    assert.deepEqual(again.scores, results[0]!.scores);
  });

  test('InceptionV3 (safety mode full) classifies the portrait as not NSFW', async () => {
    const out = await run({ image: photo('astronaut-portrait.jpg'), network: 'inception-v3' });
    assertScores(out);
    assert.equal(out.network, 'inception-v3');
    assert.equal(out.nsfw, false, JSON.stringify(out.scores));
  });

  test('the decision: the unsafe classes together above one half', () => {
    const base = { Drawing: 0, Hentai: 0, Neutral: 0, Porn: 0, Sexy: 0 };
    assert.equal(isNsfw({ ...base, Neutral: 0.9, Porn: 0.1 }), false);
    assert.equal(isNsfw({ ...base, Neutral: 0.4, Porn: 0.2, Sexy: 0.2, Hentai: 0.2 }), true);
    assert.equal(isNsfw({ ...base, Drawing: 0.45, Sexy: 0.55 }), true);
    assert.equal(isNsfw({ ...base, Drawing: 0.5, Hentai: 0.5 }), false);
  });

  test('refuses bytes that are no image', async () => {
    const err = await run({ image: Buffer.from('definitely not a picture'), network: 'mobilenet-v2' }).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OperationError);
    assert.equal(err.code, 'invalidImage');
  });
});

guardOpenHandles();
