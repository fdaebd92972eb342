// The vectorize operation on a real photo, called in this thread (no server): the SVG parses as
// SVG, states the photo's exact size, and rendered back it looks like the photo.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { availability, run } from '../src/engines/builtin/ops/vectorize.js';
import { OperationError } from '../src/engines/builtin/ops/operation-error.js';
import { CUP_PHOTO, meanAbsoluteDifference, photo } from './helpers/photos.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const cup = photo(CUP_PHOTO);

test('imagetracerjs is installed', () => {
  assert.deepEqual(availability(), { ready: true });
});

test('the SVG has the photo size, holds only paths, and rendered back resembles the photo', async () => {
  const out = await run({ image: cup });
  const svg = Buffer.from(out.image);
  const text = svg.toString('utf8');
  assert.deepEqual([out.width, out.height], [600, 400]);
  assert.match(
    text,
    /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" version="1\.1" width="600" height="400" viewBox="0 0 600 400">/,
  );
  assert.ok(text.trimEnd().endsWith('</svg>'));
  const elements = new Set([...text.matchAll(/<([a-zA-Z]+)[\s>]/g)].map((m) => m[1]));
  assert.deepEqual([...elements].sort(), ['path', 'svg'], 'nothing but shapes (no script, no foreign objects)');
  const meta = await sharp(svg).metadata(); // librsvg parses it
  assert.deepEqual([meta.format, meta.width, meta.height], ['svg', 600, 400]);
  const rendered = await sharp(svg).png().toBuffer();
  const difference = await meanAbsoluteDifference(rendered, cup);
  assert.ok(difference < 20, `mean colour difference ${difference.toFixed(1)} of 255`);
  // and a flat grey square is not what it resembles: the bound has teeth
  const grey = await sharp({ create: { width: 600, height: 400, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  assert.ok((await meanAbsoluteDifference(grey, cup)) > 2 * difference);
});

test('the same photo gives the same SVG (the palette is sampled on a grid, not at random)', async () => {
  const a = await run({ image: cup });
  const b = await run({ image: cup });
  assert.ok(Buffer.from(a.image).equals(Buffer.from(b.image)));
});

test('unreadable bytes and oversized images are refused', async () => {
  await assert.rejects(
    run({ image: Buffer.from('<svg>nope</svg>') }),
    (err: unknown) => err instanceof OperationError && err.code === 'invalidImage',
  );
  const tall = await sharp({ create: { width: 4, height: 9000, channels: 3, background: '#000' } })
    .png()
    .toBuffer();
  await assert.rejects(
    run({ image: tall }),
    (err: unknown) => err instanceof OperationError && err.code === 'unsupportedDimensions',
  );
});

guardOpenHandles();
