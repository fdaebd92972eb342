// ESRGAN super-resolution (the "slim" RDN generator of @upscalerjs/esrgan-slim, ×2 and ×4
// weights) on TF.js wasm. The image is cut into 128-pixel tiles, the size the network was trained
// on, each read with an 8-pixel margin of its neighbours so that tile seams do not show; only the
// tile's own part of each result is kept. Memory stays bounded by one tile whatever the image.

import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type * as TF from '@tensorflow/tfjs';
import { OperationError } from './operation-error.js';
import { encodeAs } from '../encode.js';
import { asBuffer, type Availability, type EncodedFormat, type OperationContext } from '../operation.js';
import { modelFolderHandler, packageFolder, tfjs, tfjsAvailability } from './tfjs-runtime.js';

export type EsrganFactor = 2 | 4;

export interface UpscaleEsrganInput {
  /** Encoded image bytes, any format sharp reads. */
  image: Uint8Array;
  factor: EsrganFactor;
  format: EncodedFormat;
  quality: number;
}

export interface UpscaleEsrganOutput {
  image: Uint8Array;
  format: EncodedFormat;
  width: number;
  height: number;
  /** The size the network saw (the upright input, shrunk first when the output would pass the cap). */
  networkInput: { width: number; height: number };
}

declare module './op-table.js' {
  interface OpTable {
    'upscale-esrgan': { input: UpscaleEsrganInput; output: UpscaleEsrganOutput };
  }
}

export const ESRGAN_FACTORS: readonly EsrganFactor[] = [2, 4];
/** Largest output side; a larger result shrinks the input first. */
export const MAX_OUTPUT_SIDE = 4096;
/**
 * Most pixels the network is given (after the cap's shrink). On one core the slim network takes
 * about 22 s per megapixel at ×2 and 45 s at ×4, tile margins aside, so 512×512 keeps a run near
 * 8 s and 16 s: well inside a client's 60 s timeout even when the machine is shared.
 */
export const MAX_NETWORK_PIXELS = 512 * 512;

const TILE = 128;
const MARGIN = 8;
const PACKAGE = '@upscalerjs/esrgan-slim';

export function availability(): Availability {
  const runtime = tfjsAvailability();
  if (!runtime.ready) return runtime;
  const folder = packageFolder(PACKAGE);
  if (!folder) return { ready: false, reason: `${PACKAGE} is not installed` };
  for (const factor of ESRGAN_FACTORS) {
    if (!existsSync(path.join(folder, 'models', `x${factor}`, 'model.json'))) {
      return { ready: false, reason: `${PACKAGE} has no ×${factor} model` };
    }
  }
  return { ready: true };
}

/** The size the network works on and the output size, for an upright input of `width`×`height`. */
export function esrganSizes(width: number, height: number, factor: EsrganFactor) {
  const shrink = Math.min(1, MAX_OUTPUT_SIDE / (width * factor), MAX_OUTPUT_SIDE / (height * factor));
  const networkInput = {
    width: Math.max(1, Math.floor(width * shrink)),
    height: Math.max(1, Math.floor(height * shrink)),
  };
  return { networkInput, output: { width: networkInput.width * factor, height: networkInput.height * factor } };
}

const models = new Map<EsrganFactor, Promise<TF.LayersModel>>();

function model(tf: typeof TF, factor: EsrganFactor): Promise<TF.LayersModel> {
  let loading = models.get(factor);
  if (!loading) {
    const folder = packageFolder(PACKAGE);
    if (!folder) throw new Error(`${PACKAGE} is not installed`);
    loading = tf
      .loadLayersModel(modelFolderHandler(path.join(folder, 'models', `x${factor}`)))
      .catch((err: unknown) => {
        throw new OperationError(
          'engineUnavailable',
          `the ESRGAN ×${factor} model did not load (${(err as Error).message})`,
        );
      });
    loading.catch(() => models.delete(factor)); // a later call may try again
    models.set(factor, loading);
  }
  return loading;
}

export async function run(input: UpscaleEsrganInput, context?: OperationContext): Promise<UpscaleEsrganOutput> {
  if (!ESRGAN_FACTORS.includes(input.factor)) {
    throw new OperationError(
      'invalidUpscaleFactor',
      `ESRGAN upscales by 2 or 4, not ${String(input.factor)}.`,
      'upscaleFactor',
    );
  }
  const bytes = asBuffer(input.image);
  const meta = await sharp(bytes)
    .metadata()
    .catch(() => undefined);
  if (!meta?.width || !meta.height) {
    throw new OperationError('invalidInputImage', 'The data is not a readable image.', 'inputImage');
  }
  // EXIF orientations 5–8 swap the sides once the image is turned upright.
  const turned = meta.orientation !== undefined && meta.orientation >= 5;
  const upright = turned ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
  const { networkInput, output } = esrganSizes(upright.width, upright.height, input.factor);
  const pixels = networkInput.width * networkInput.height;
  if (pixels > MAX_NETWORK_PIXELS) {
    throw new OperationError(
      'invalidInputImage',
      `The image is ${networkInput.width}×${networkInput.height} (${pixels} pixels); ESRGAN on this server's CPU takes at most ${MAX_NETWORK_PIXELS} pixels (512×512). Shrink it first, or use the Lanczos model.`,
      'inputImage',
    );
  }

  const keepAlpha = meta.hasAlpha && input.format !== 'jpg';
  const rgb = await prepared(bytes, networkInput, input.format === 'jpg' ? 'flatten' : 'drop')
    .raw()
    .toBuffer()
    .catch(() => {
      throw new OperationError('invalidInputImage', 'The image data could not be decoded.', 'inputImage');
    });

  const tf = await tfjs();
  const network = await model(tf, input.factor);
  const upscaled = await upscaleTiles(tf, network, rgb, networkInput.width, networkInput.height, input.factor, context);

  let image = sharp(upscaled, { raw: { width: output.width, height: output.height, channels: 3 } });
  if (keepAlpha) {
    // The network knows colour only; transparency is carried over with Lanczos.
    const alpha = await prepared(bytes, networkInput, 'keep')
      .extractChannel('alpha')
      .resize(output.width, output.height, { kernel: 'lanczos3', fit: 'fill' })
      .raw()
      .toBuffer();
    image = image.joinChannel(alpha, { raw: { width: output.width, height: output.height, channels: 1 } });
  }
  const encoded = await encodeAs(image, input.format, input.quality).toBuffer();
  return {
    image: new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength),
    format: input.format,
    ...output,
    networkInput,
  };
}

/** The upright image at the network's input size, as 3-channel sRGB (alpha flattened, dropped or kept). */
function prepared(bytes: Buffer, size: { width: number; height: number }, alpha: 'flatten' | 'drop' | 'keep'): Sharp {
  let pipeline = sharp(bytes)
    .rotate()
    .resize(size.width, size.height, { kernel: 'lanczos3', fit: 'fill' })
    .toColourspace('srgb');
  if (alpha === 'flatten') pipeline = pipeline.flatten({ background: '#ffffff' });
  else if (alpha === 'drop') pipeline = pipeline.removeAlpha();
  else pipeline = pipeline.ensureAlpha();
  return pipeline;
}

/** Runs the network tile by tile over `rgb` (width×height×3 bytes) and returns the (factor×) RGB bytes. */
async function upscaleTiles(
  tf: typeof TF,
  network: TF.LayersModel,
  rgb: Buffer,
  width: number,
  height: number,
  factor: number,
  context: OperationContext | undefined,
): Promise<Buffer> {
  const outWidth = width * factor;
  const tiles = Math.ceil(width / TILE) * Math.ceil(height / TILE);
  let done = 0;
  const out = Buffer.alloc(outWidth * height * factor * 3);
  const clamp = new Uint8ClampedArray(1);
  for (let top = 0; top < height; top += TILE) {
    for (let left = 0; left < width; left += TILE) {
      const tileW = Math.min(TILE, width - left);
      const tileH = Math.min(TILE, height - top);
      // The tile with its margin, clipped to the image.
      const x0 = Math.max(0, left - MARGIN);
      const y0 = Math.max(0, top - MARGIN);
      const x1 = Math.min(width, left + tileW + MARGIN);
      const y1 = Math.min(height, top + tileH + MARGIN);
      const w = x1 - x0;
      const h = y1 - y0;
      const patch = new Float32Array(w * h * 3);
      for (let y = 0; y < h; y++) {
        const from = ((y0 + y) * width + x0) * 3;
        for (let i = 0; i < w * 3; i++) patch[y * w * 3 + i] = rgb[from + i]!;
      }
      const result = tf.tidy(() => network.predict(tf.tensor4d(patch, [1, h, w, 3])) as TF.Tensor);
      const values = (await result.data()) as Float32Array;
      result.dispose();
      // Keep the tile's own part of the result, dropping the margins.
      const rowLength = w * factor;
      const skipX = (left - x0) * factor;
      const skipY = (top - y0) * factor;
      for (let y = 0; y < tileH * factor; y++) {
        const from = ((skipY + y) * rowLength + skipX) * 3;
        const to = ((top * factor + y) * outWidth + left * factor) * 3;
        for (let i = 0; i < tileW * factor * 3; i++) {
          clamp[0] = values[from + i]!;
          out[to + i] = clamp[0]!;
        }
      }
      context?.progress(Math.floor((++done / tiles) * 100));
    }
  }
  return out;
}
