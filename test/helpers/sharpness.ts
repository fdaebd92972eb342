// Image measures for the upscaler tests: gradient energy (mean squared Sobel magnitude of the
// luma) says how much fine detail and edge contrast a picture has; PSNR says how close two
// pictures of the same size are.

import sharp from 'sharp';

export interface RawRgb {
  data: Buffer;
  width: number;
  height: number;
}

/** Decodes any image to upright 8-bit RGB. */
export async function rawRgb(image: Buffer | Uint8Array): Promise<RawRgb> {
  const { data, info } = await sharp(image)
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Mean of gx² + gy² over the interior pixels, with 3×3 Sobel kernels on the luma. */
export function gradientEnergy({ data, width, height }: RawRgb): number {
  const luma = new Float64Array(width * height);
  for (let i = 0; i < luma.length; i++)
    luma[i] = 0.299 * data[i * 3]! + 0.587 * data[i * 3 + 1]! + 0.114 * data[i * 3 + 2]!;
  const at = (x: number, y: number) => luma[y * width + x]!;
  let sum = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const gx =
        at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy =
        at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      sum += gx * gx + gy * gy;
    }
  }
  return sum / ((width - 2) * (height - 2));
}

/** Peak signal-to-noise ratio in dB between two RGB images of one size. */
export function psnr(a: RawRgb, b: RawRgb): number {
  if (a.width !== b.width || a.height !== b.height)
    throw new Error(`sizes differ: ${a.width}×${a.height} vs ${b.width}×${b.height}`);
  let squared = 0;
  for (let i = 0; i < a.data.length; i++) squared += (a.data[i]! - b.data[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (squared / a.data.length));
}

/** The same enlargement with Lanczos resampling, the baseline a learned upscaler must beat. */
export async function lanczosUpscale(image: Buffer | Uint8Array, width: number, height: number): Promise<RawRgb> {
  return rawRgb(
    await sharp(image).rotate().resize(width, height, { kernel: 'lanczos3', fit: 'fill' }).png().toBuffer(),
  );
}
