// The ESRGAN operation on its own, in this thread, on real photos: the output has the asked size,
// is sharper than Lanczos at ×4 (gradient energy) and closer to the true picture at ×2 (PSNR),
// keeps transparency, and refuses a factor it has no weights for, an oversized or corrupt image.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { OperationError } from '../src/engines/builtin/ops/operation-error.js';
import {
  MAX_NETWORK_PIXELS,
  availability,
  esrganSizes,
  run,
  type EsrganFactor,
} from '../src/engines/builtin/ops/upscale-esrgan.js';
import { gradientEnergy, lanczosUpscale, psnr, rawRgb } from './helpers/sharpness.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const photo = (name: string) => readFileSync(new URL(`../../test/fixtures/photos/${name}`, import.meta.url));
const shrunk = (image: Buffer, width: number) => sharp(image).resize(width).png().toBuffer();

async function rejection(promise: Promise<unknown>): Promise<OperationError> {
  const err = await promise.then(
    () => assert.fail('expected the operation to refuse'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof OperationError, String(err));
  return err;
}

describe('upscale-esrgan operation', () => {
  test('reports itself ready: the package and its ×2 and ×4 weights are installed', () => {
    assert.deepEqual(availability(), { ready: true });
  });

  test('×4 on a real photo: four times the size and sharper than Lanczos by gradient energy', async () => {
    const input = await shrunk(photo('cat-face.jpg'), 150); // 150×100, two tiles wide
    const out = await run({ image: input, factor: 4, format: 'png', quality: 95 });
    assert.equal(out.format, 'png');
    assert.deepEqual([out.width, out.height], [600, 400]);
    const esrgan = await rawRgb(out.image);
    assert.deepEqual([esrgan.width, esrgan.height], [600, 400]);
    const lanczos = await lanczosUpscale(input, 600, 400);
    const ratio = gradientEnergy(esrgan) / gradientEnergy(lanczos);
    assert.ok(ratio > 1.1, `gradient energy ESRGAN/Lanczos = ${ratio.toFixed(3)}`);
    // Still the same picture: close to the Lanczos enlargement overall.
    assert.ok(psnr(esrgan, lanczos) > 24, `PSNR against Lanczos ${psnr(esrgan, lanczos).toFixed(2)} dB`);
  });

  test('×2 restores a halved photo closer to the original than Lanczos does', async () => {
    const original = await rawRgb(await sharp(photo('coffee-cup-on-table.jpg')).resize(300, 200).png().toBuffer());
    const half = await sharp(original.data, { raw: { width: 300, height: 200, channels: 3 } })
      .resize(150, 100)
      .png()
      .toBuffer();
    const out = await run({ image: half, factor: 2, format: 'webp', quality: 99 });
    assert.deepEqual([out.width, out.height], [300, 200]);
    const restored = await rawRgb((await run({ image: half, factor: 2, format: 'png', quality: 95 })).image);
    const lanczos = await lanczosUpscale(half, 300, 200);
    const [esrganDb, lanczosDb] = [psnr(restored, original), psnr(lanczos, original)];
    assert.ok(
      esrganDb > lanczosDb + 1,
      `PSNR to the original: ESRGAN ${esrganDb.toFixed(2)} dB, Lanczos ${lanczosDb.toFixed(2)} dB`,
    );
    assert.equal((await sharp(out.image).metadata()).format, 'webp');
  });

  test('keeps the alpha channel of a PNG and flattens it for JPG', async () => {
    const withAlpha = await sharp(await shrunk(photo('cat-face.jpg'), 60))
      .ensureAlpha(0.5)
      .png()
      .toBuffer();
    const png = await run({ image: withAlpha, factor: 2, format: 'png', quality: 95 });
    const pngMeta = await sharp(png.image).metadata();
    assert.equal(pngMeta.hasAlpha, true);
    const alpha = await sharp(png.image).extractChannel('alpha').raw().toBuffer();
    assert.ok(
      alpha.every((v) => Math.abs(v - 128) <= 1),
      'half transparency carried over',
    );
    const jpg = await run({ image: withAlpha, factor: 2, format: 'jpg', quality: 90 });
    assert.equal((await sharp(jpg.image).metadata()).hasAlpha, false);
  });

  test('the output cap: the input shrinks first so that no side passes 4096', () => {
    assert.deepEqual(esrganSizes(2000, 300, 4), {
      networkInput: { width: 1024, height: 153 },
      output: { width: 4096, height: 612 },
    });
    assert.deepEqual(esrganSizes(300, 200, 2), {
      networkInput: { width: 300, height: 200 },
      output: { width: 600, height: 400 },
    });
  });

  test('refuses factor 3, an image above the pixel limit and bytes that are no image', async () => {
    const factor3 = await rejection(
      run({ image: await shrunk(photo('cat-face.jpg'), 40), factor: 3 as EsrganFactor, format: 'png', quality: 95 }),
    );
    assert.equal(factor3.code, 'invalidUpscaleFactor');
    assert.equal(factor3.parameter, 'upscaleFactor');

    const side = Math.ceil(Math.sqrt(MAX_NETWORK_PIXELS)) + 1;
    const large = await sharp(photo('coffee-cup-on-table.jpg')).resize(side, side, { fit: 'fill' }).jpeg().toBuffer();
    const tooLarge = await rejection(run({ image: large, factor: 2, format: 'png', quality: 95 }));
    assert.equal(tooLarge.code, 'invalidInputImage');
    assert.equal(tooLarge.parameter, 'inputImage');
    assert.match(tooLarge.message, /at most 262144 pixels/);

    const truncated = photo('cat-face.jpg').subarray(0, 200);
    const corrupt = await rejection(run({ image: truncated, factor: 2, format: 'png', quality: 95 }));
    assert.equal(corrupt.code, 'invalidInputImage');
    const garbage = await rejection(
      run({ image: Buffer.from('not an image at all'), factor: 4, format: 'png', quality: 95 }),
    );
    assert.equal(garbage.code, 'invalidInputImage');
  });
});

guardOpenHandles();
