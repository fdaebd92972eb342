// remove-background: cuts the main object out of a photo with ISNet (the "DIS" general-object
// segmentation network), run by onnxruntime-node on the CPU. Only the network's weights come from
// @imgly/background-removal-data (its ThirdPartyLicenses.json declares them MIT; the package's own
// code is AGPL-3.0 and none of it is loaded): the file is reassembled from the package's chunks
// here, and the pre- and post-processing (resize, normalisation, mask refinement, compositing) are
// this file's own.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { InferenceSession } from 'onnxruntime-node';
import { OperationError } from './operation-error.js';
import type { Availability, EncodedImage, OperationContext } from '../operation.js';
import { encodeAs } from '../encode.js';
import { decodeUpright, type ImageEncoding } from './raster-io.js';

declare module './op-table.js' {
  interface OpTable {
    'remove-background': { input: RemoveBackgroundInput; output: RemoveBackgroundOutput };
  }
}

export interface AlphaMattingOptions {
  /** Mask values (0–255) at or above this are certain foreground. */
  foregroundThreshold: number;
  /** Mask values at or below this are certain background. */
  backgroundThreshold: number;
  /** Pixels the certain regions shrink by, widening the band whose alpha is estimated from colour. */
  erodeSize: number;
}

export interface RemoveBackgroundInput extends ImageEncoding {
  image: Uint8Array;
  /** Give back the mask itself (white = object) instead of the cut-out. */
  returnOnlyMask: boolean;
  /** Clean the mask: drop specks, then a hard edge (opening, blur, threshold at the middle). */
  postProcessMask: boolean;
  /** Refine the edge band from the image's colours (fur, hair); null = the network's mask as it is. */
  alphaMatting: AlphaMattingOptions | null;
  /** [r, g, b, a] painted where the background was (r, g, b 0–255, a 0–1); null = transparent. */
  background: readonly [number, number, number, number] | null;
}

export type RemoveBackgroundOutput = EncodedImage;

/** The runtrail AIR of the network this operation runs. */
export const ISNET_MODEL_AIR = 'runtrail:isnet@general-use';

/** The network's fixed input size. */
const MODEL_SIDE = 1024;
/** Largest input side accepted: the cut-out is composited at full size, four bytes per pixel. */
export const MAX_INPUT_SIDE = 4096;

const DATA_PACKAGE = '@imgly/background-removal-data';
/** The half-precision ISNet (44 MB): the same answers as the full one here at half the load time. */
const WEIGHTS_ENTRY = '/models/small';

interface ChunkedResource {
  size: number;
  chunks: { hash: string; offsets: [number, number] }[];
}

let session: Promise<InferenceSession> | undefined;

export function availability(): Availability {
  try {
    const require = createRequire(import.meta.url);
    require.resolve('onnxruntime-node');
    const resource = weightsResource();
    const missing = resource.chunks.filter((c) => !existsSync(join(dataDir(), c.hash)));
    if (missing.length > 0)
      return { ready: false, reason: `${missing.length} ISNet weight chunks of ${DATA_PACKAGE} are missing` };
    return { ready: true };
  } catch (err) {
    return { ready: false, reason: `ISNet cannot load: ${(err as Error).message}` };
  }
}

export async function run(input: RemoveBackgroundInput, context?: OperationContext): Promise<RemoveBackgroundOutput> {
  const photo = await decodeUpright(input.image, MAX_INPUT_SIDE, 'removeBackground');
  const { width, height } = photo;

  const modelInput = await sharp(photo.rgb, { raw: { width, height, channels: 3 } })
    .resize(MODEL_SIDE, MODEL_SIDE, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  context?.progress(10);
  const prediction = await predict(modelInput);
  context?.progress(90);

  let mask: Buffer = await sharp(prediction, { raw: { width: MODEL_SIDE, height: MODEL_SIDE, channels: 1 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .extractChannel(0)
    .raw()
    .toBuffer();
  if (input.postProcessMask) mask = await cleanMask(mask, width, height);
  if (input.alphaMatting) mask = refineEdges(mask, photo.rgb, width, height, input.alphaMatting);

  if (input.returnOnlyMask) {
    const image = await encodeAs(
      sharp(mask, { raw: { width, height, channels: 1 } }).toColourspace('b-w'),
      input.format,
      input.quality,
    ).toBuffer();
    return { image, format: input.format, width, height };
  }
  // JPG has no alpha: an rgba background is painted fully opaque there (without one, encodeAs
  // flattens the transparent cut-out onto white).
  const given = input.background;
  const background: RemoveBackgroundInput['background'] =
    input.format === 'jpg' && given ? [given[0], given[1], given[2], 1] : given;
  const cutout = composite(photo.rgb, mask, width * height, background);
  const image = await encodeAs(
    sharp(cutout, { raw: { width, height, channels: 4 } }),
    input.format,
    input.quality,
  ).toBuffer();
  return { image, format: input.format, width, height };
}

/** Runs ISNet on a 1024×1024 RGB picture; returns its mask as 1024×1024 bytes (255 = object). */
async function predict(rgb: Buffer): Promise<Buffer> {
  const ort = await import('onnxruntime-node');
  session ??= loadSession().catch((err: unknown) => {
    session = undefined; // a failed load is retried by the next call rather than cached
    throw new OperationError('engineUnavailable', `the ISNet model could not be loaded (${(err as Error).message})`);
  });
  const model = await session;
  const pixels = MODEL_SIDE * MODEL_SIDE;
  // Planar float input, each channel scaled to [-0.5, 0.5] as the network was trained.
  const planar = new Float32Array(3 * pixels);
  for (let i = 0; i < pixels; i++) {
    planar[i] = rgb[i * 3]! / 255 - 0.5;
    planar[pixels + i] = rgb[i * 3 + 1]! / 255 - 0.5;
    planar[2 * pixels + i] = rgb[i * 3 + 2]! / 255 - 0.5;
  }
  const feeds = { [model.inputNames[0]!]: new ort.Tensor('float32', planar, [1, 3, MODEL_SIDE, MODEL_SIDE]) };
  // Only the final side output is wanted; asking for the others would allocate them too.
  const outputName = model.outputNames[0]!;
  const result = await model.run(feeds, [outputName]);
  const scores = result[outputName]!.data as Float32Array;
  const mask = Buffer.allocUnsafe(pixels);
  for (let i = 0; i < pixels; i++) mask[i] = Math.round(Math.min(1, Math.max(0, scores[i]!)) * 255);
  return mask;
}

async function loadSession(): Promise<InferenceSession> {
  const ort = await import('onnxruntime-node');
  const resource = weightsResource();
  const weights = Buffer.alloc(resource.size);
  for (const chunk of resource.chunks) {
    const bytes = readFileSync(join(dataDir(), chunk.hash));
    // Chunks are named by their SHA-256: a damaged install fails here, not with a garbled mask.
    if (createHash('sha256').update(bytes).digest('hex') !== chunk.hash)
      throw new Error(`ISNet weight chunk ${chunk.hash} is damaged`);
    bytes.copy(weights, chunk.offsets[0]);
  }
  // One thread per session: the worker pool already runs one operation per core.
  return ort.InferenceSession.create(weights, { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

function dataDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve(`${DATA_PACKAGE}/package.json`)), 'dist');
}

function weightsResource(): ChunkedResource {
  const index = JSON.parse(readFileSync(join(dataDir(), 'resources.json'), 'utf8')) as Record<string, ChunkedResource>;
  const resource = index[WEIGHTS_ENTRY];
  if (!resource || !Array.isArray(resource.chunks)) throw new Error(`${DATA_PACKAGE} has no ${WEIGHTS_ENTRY} entry`);
  return resource;
}

/** Opening (drops specks and thin bridges), a light blur, then a hard threshold at the middle. */
async function cleanMask(mask: Buffer, width: number, height: number): Promise<Buffer> {
  const opened = await sharp(mask, { raw: { width, height, channels: 1 } })
    .erode(1)
    .dilate(1)
    .extractChannel(0)
    .raw()
    .toBuffer();
  // Separate pipelines: sharp applies its operations in its own fixed order, not in call order.
  const blurred = await sharp(opened, { raw: { width, height, channels: 1 } })
    .blur(2)
    .extractChannel(0)
    .raw()
    .toBuffer();
  for (let i = 0; i < blurred.length; i++) blurred[i] = blurred[i]! >= 128 ? 255 : 0;
  return blurred;
}

/**
 * Alpha matting, approximately: a trimap from the thresholds (certain object, certain
 * background, each shrunk by `erodeSize`), and in the band between them an alpha from a guided
 * filter (He et al.) of the mask with the image's luminance as guide, so the edge follows the
 * photo's own contrast (strands of hair) rather than the network's smooth 1024² mask.
 */
function refineEdges(mask: Buffer, rgb: Buffer, width: number, height: number, options: AlphaMattingOptions): Buffer {
  const n = width * height;
  const fg = new Uint8Array(n);
  const bg = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    fg[i] = mask[i]! >= options.foregroundThreshold ? 1 : 0;
    bg[i] = mask[i]! <= options.backgroundThreshold ? 1 : 0;
  }
  const sureFg = erodeBinary(fg, width, height, options.erodeSize);
  const sureBg = erodeBinary(bg, width, height, options.erodeSize);

  const guide = new Float32Array(n);
  const p = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    guide[i] = (0.299 * rgb[i * 3]! + 0.587 * rgb[i * 3 + 1]! + 0.114 * rgb[i * 3 + 2]!) / 255;
    p[i] = mask[i]! / 255;
  }
  const radius = Math.max(2, options.erodeSize);
  const filtered = guidedFilter(guide, p, width, height, radius, 1e-3);

  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    out[i] = sureFg[i] ? 255 : sureBg[i] ? 0 : Math.round(Math.min(1, Math.max(0, filtered[i]!)) * 255);
  }
  return out;
}

/** Binary erosion by a square of half-size `r`, done as two separable running-minimum passes. */
function erodeBinary(src: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const horizontal = new Uint8Array(src.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    // distance to the nearest 0 on the left; the pixel survives when no 0 lies within r either side
    let lastZero = -Infinity;
    const left = new Float64Array(width);
    for (let x = 0; x < width; x++) {
      if (!src[row + x]) lastZero = x;
      left[x] = x - lastZero;
    }
    let nextZero = Infinity;
    for (let x = width - 1; x >= 0; x--) {
      if (!src[row + x]) nextZero = x;
      horizontal[row + x] = left[x]! > r && nextZero - x > r ? 1 : 0;
    }
  }
  const out = new Uint8Array(src.length);
  const above = new Float64Array(height);
  for (let x = 0; x < width; x++) {
    let lastZero = -Infinity;
    for (let y = 0; y < height; y++) {
      if (!horizontal[y * width + x]) lastZero = y;
      above[y] = y - lastZero;
    }
    let nextZero = Infinity;
    for (let y = height - 1; y >= 0; y--) {
      if (!horizontal[y * width + x]) nextZero = y;
      out[y * width + x] = above[y]! > r && nextZero - y > r ? 1 : 0;
    }
  }
  return out;
}

/** The guided filter of `p` with guide `g` (both width×height, one channel), box radius `r`. */
function guidedFilter(
  g: Float32Array,
  p: Float32Array,
  width: number,
  height: number,
  r: number,
  eps: number,
): Float32Array {
  const n = width * height;
  const gp = new Float32Array(n);
  const gg = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    gp[i] = g[i]! * p[i]!;
    gg[i] = g[i]! * g[i]!;
  }
  const meanG = boxMean(g, width, height, r);
  const meanP = boxMean(p, width, height, r);
  const meanGP = boxMean(gp, width, height, r);
  const meanGG = boxMean(gg, width, height, r);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const variance = meanGG[i]! - meanG[i]! * meanG[i]!;
    const covariance = meanGP[i]! - meanG[i]! * meanP[i]!;
    a[i] = covariance / (variance + eps);
    b[i] = meanP[i]! - a[i]! * meanG[i]!;
  }
  const meanA = boxMean(a, width, height, r);
  const meanB = boxMean(b, width, height, r);
  const q = new Float32Array(n);
  for (let i = 0; i < n; i++) q[i] = meanA[i]! * g[i]! + meanB[i]!;
  return q;
}

/** Mean over a (2r+1)² window clipped at the borders, from a summed-area table. */
function boxMean(src: Float32Array, width: number, height: number, r: number): Float32Array {
  const stride = width + 1;
  const sums = new Float64Array(stride * (height + 1));
  for (let y = 0; y < height; y++) {
    let rowSum = 0;
    for (let x = 0; x < width; x++) {
      rowSum += src[y * width + x]!;
      sums[(y + 1) * stride + x + 1] = sums[y * stride + x + 1]! + rowSum;
    }
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(height, y + r + 1);
    for (let x = 0; x < width; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(width, x + r + 1);
      const total =
        sums[y1 * stride + x1]! - sums[y0 * stride + x1]! - sums[y1 * stride + x0]! + sums[y0 * stride + x0]!;
      out[y * width + x] = total / ((y1 - y0) * (x1 - x0));
    }
  }
  return out;
}

/** RGBA: the photo with the mask as alpha, over the background colour when one is given. */
function composite(rgb: Buffer, mask: Buffer, pixels: number, background: RemoveBackgroundInput['background']): Buffer {
  const out = Buffer.allocUnsafe(pixels * 4);
  const [br, bgr, bb, ba] = background ?? [0, 0, 0, 0];
  for (let i = 0; i < pixels; i++) {
    const alpha = mask[i]! / 255;
    if (background === null || ba === 0) {
      out[i * 4] = rgb[i * 3]!;
      out[i * 4 + 1] = rgb[i * 3 + 1]!;
      out[i * 4 + 2] = rgb[i * 3 + 2]!;
      out[i * 4 + 3] = mask[i]!;
      continue;
    }
    // "over" compositing of the object onto a (possibly translucent) background colour
    const outAlpha = alpha + ba * (1 - alpha);
    const mix = (fgValue: number, bgValue: number) =>
      Math.round((fgValue * alpha + bgValue * ba * (1 - alpha)) / outAlpha);
    out[i * 4] = mix(rgb[i * 3]!, br);
    out[i * 4 + 1] = mix(rgb[i * 3 + 1]!, bgr);
    out[i * 4 + 2] = mix(rgb[i * 3 + 2]!, bb);
    out[i * 4 + 3] = Math.round(outAlpha * 255);
  }
  return out;
}
