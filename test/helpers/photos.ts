// The test photos in test/fixtures/photos (SOURCES.md says what each shows and its licence), and
// measurements on decoded images that tests assert on.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export function photo(name: string): Buffer {
  return readFileSync(fileURLToPath(new URL(`../../../test/fixtures/photos/${name}`, import.meta.url)));
}

/** The espresso cup photo (600×400): the cup fills the middle, the wooden table the corners. */
export const CUP_PHOTO = 'espresso-cup-on-saucer.jpg';
/** Where the cup and its coffee are, and four corners of bare table, in CUP_PHOTO's pixels. */
export const CUP_REGIONS = {
  object: { left: 250, top: 110, width: 80, height: 60 },
  background: [
    { left: 0, top: 0, width: 50, height: 50 },
    { left: 550, top: 0, width: 50, height: 50 },
    { left: 0, top: 350, width: 50, height: 50 },
    { left: 550, top: 350, width: 50, height: 50 },
  ],
} as const;

export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Mean of one channel over a region of an encoded image (channel 3 = alpha). */
export async function meanOfChannel(image: Buffer, channel: number, region: Region): Promise<number> {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  for (let y = region.top; y < region.top + region.height; y++) {
    for (let x = region.left; x < region.left + region.width; x++)
      sum += data[(y * info.width + x) * info.channels + channel]!;
  }
  return sum / (region.width * region.height);
}

/** Mean absolute difference per channel value (0–255) between two encoded images of one size, alpha ignored. */
export async function meanAbsoluteDifference(a: Buffer, b: Buffer): Promise<number> {
  const [pa, pb] = await Promise.all(
    [a, b].map((img) =>
      sharp(img).flatten({ background: '#ffffff' }).removeAlpha().raw().toBuffer({ resolveWithObject: true }),
    ),
  );
  if (pa!.info.width !== pb!.info.width || pa!.info.height !== pb!.info.height)
    throw new Error('images differ in size');
  let sum = 0;
  for (let i = 0; i < pa!.data.length; i++) sum += Math.abs(pa!.data[i]! - pb!.data[i]!);
  return sum / pa!.data.length;
}
