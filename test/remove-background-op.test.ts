// The remove-background operation on a real photo, called in this thread (no server): the cut-out
// is transparent where the table was and opaque on the cup, the options change what they should,
// and input it cannot take is refused with an OperationError before the network runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { availability, run, type RemoveBackgroundInput } from '../src/engines/builtin/ops/remove-background.js';
import { OperationError } from '../src/engines/builtin/ops/operation-error.js';
import { CUP_PHOTO, CUP_REGIONS, meanOfChannel, photo } from './helpers/photos.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const cup = photo(CUP_PHOTO);
const plain: RemoveBackgroundInput = {
  image: cup,
  returnOnlyMask: false,
  postProcessMask: false,
  alphaMatting: null,
  background: null,
  format: 'png',
  quality: 95,
};

test('the model files are installed (checked without loading them)', () => {
  assert.deepEqual(availability(), { ready: true });
});

test('a PNG cut-out keeps the photo size, is transparent on the table and opaque on the cup', async () => {
  const out = await run(plain);
  const image = Buffer.from(out.image);
  const meta = await sharp(image).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.channels, meta.hasAlpha], ['png', 600, 400, 4, true]);
  assert.deepEqual([out.width, out.height], [600, 400]);
  assert.ok((await meanOfChannel(image, 3, CUP_REGIONS.object)) > 240, 'the cup is opaque');
  for (const corner of CUP_REGIONS.background)
    assert.ok((await meanOfChannel(image, 3, corner)) < 15, `corner ${JSON.stringify(corner)} is transparent`);
  // where it is opaque, the colours are the photo's own
  const original = await meanOfChannel(cup, 0, CUP_REGIONS.object);
  assert.ok(Math.abs((await meanOfChannel(image, 0, CUP_REGIONS.object)) - original) < 4);
});

test('returnOnlyMask with postProcessMask gives a one-channel mask of only black and white', async () => {
  const out = await run({ ...plain, returnOnlyMask: true, postProcessMask: true });
  const image = Buffer.from(out.image);
  const meta = await sharp(image).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels, meta.space], [600, 400, 1, 'b-w']);
  const { data } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  assert.ok(
    data.every((v) => v === 0 || v === 255),
    'a post-processed mask is hard-edged',
  );
  assert.equal(await meanOfChannel(image, 0, CUP_REGIONS.object), 255);
  for (const corner of CUP_REGIONS.background) assert.equal(await meanOfChannel(image, 0, corner), 0);
});

test('an rgba background is painted where the table was; JPG has no alpha', async () => {
  const out = await run({ ...plain, background: [0, 0, 255, 1], format: 'jpg', quality: 90 });
  const image = Buffer.from(out.image);
  const meta = await sharp(image).metadata();
  assert.deepEqual([meta.format, meta.channels, meta.hasAlpha], ['jpeg', 3, false]);
  for (const corner of CUP_REGIONS.background) {
    assert.ok((await meanOfChannel(image, 2, corner)) > 230, 'blue where the table was');
    assert.ok((await meanOfChannel(image, 0, corner)) < 25);
  }
  assert.ok(
    Math.abs((await meanOfChannel(image, 0, CUP_REGIONS.object)) - (await meanOfChannel(cup, 0, CUP_REGIONS.object))) <
      6,
  );
});

test('alpha matting keeps certain regions certain and gives a soft edge band', async () => {
  const out = await run({
    ...plain,
    returnOnlyMask: true,
    alphaMatting: { foregroundThreshold: 240, backgroundThreshold: 10, erodeSize: 10 },
  });
  const image = Buffer.from(out.image);
  assert.equal(await meanOfChannel(image, 0, CUP_REGIONS.object), 255);
  for (const corner of CUP_REGIONS.background) assert.equal(await meanOfChannel(image, 0, corner), 0);
  const { data } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  const partial = data.filter((v) => v > 0 && v < 255).length;
  assert.ok(partial > 500, `an edge band of partial alpha (${partial} pixels)`);
});

test('bytes that are not an image, a truncated photo and an oversized image are refused before the model runs', async () => {
  await assert.rejects(
    run({ ...plain, image: Buffer.from('not an image at all') }),
    (err: unknown) => err instanceof OperationError && err.code === 'invalidImage',
  );
  await assert.rejects(
    run({ ...plain, image: cup.subarray(0, cup.length / 2) }),
    (err: unknown) => err instanceof OperationError && err.code === 'invalidImage',
  );
  // A 5000×10 PNG: tiny to send, but wider than the 4096 px the operation takes.
  const wide = await sharp({ create: { width: 5000, height: 10, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  await assert.rejects(
    run({ ...plain, image: wide }),
    (err: unknown) => err instanceof OperationError && err.code === 'unsupportedDimensions' && /4096/.test(err.message),
  );
});

guardOpenHandles();
