// vectorize: raster → SVG by colour quantisation and outline tracing with imagetracerjs (public
// domain, the Unlicense). Large photos are traced at a reduced size and the paths scaled back, so
// the SVG always has the input's width and height (and a matching viewBox) while the tracing time
// stays bounded.

import { createRequire } from 'node:module';
import sharp from 'sharp';
import { OperationError } from './operation-error.js';
import { asBuffer, type Availability } from '../operation.js';
import { decodeUpright } from './raster-io.js';

declare module './op-table.js' {
  interface OpTable {
    vectorize: { input: VectorizeInput; output: VectorizeOutput };
  }
}

export interface VectorizeInput {
  image: Uint8Array;
}

export interface VectorizeOutput {
  /** The SVG document, UTF-8. */
  image: Uint8Array;
  width: number;
  height: number;
}

/** The runtrail AIR of the tracer. */
export const TRACER_MODEL_AIR = 'runtrail:imagetracer@1';

/** Largest input side accepted: the image is decoded whole before it is shrunk for tracing. */
export const MAX_INPUT_SIDE = 4096;
/** Photos are traced with their long side at most this; tracing time grows with the pixel count. */
const TRACE_SIDE = 512;
const COLOURS = 16;

interface TracerImageData {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

interface ImageTracer {
  imagedataToSVG(image: TracerImageData, options: Record<string, unknown>): string;
}

let tracer: ImageTracer | undefined;

export function availability(): Availability {
  try {
    createRequire(import.meta.url).resolve('imagetracerjs');
    return { ready: true };
  } catch (err) {
    return { ready: false, reason: `imagetracerjs is not installed: ${(err as Error).message}` };
  }
}

export async function run(input: VectorizeInput): Promise<VectorizeOutput> {
  const photo = await decodeUpright(asBuffer(input.image), MAX_INPUT_SIDE, 'vectorize');
  const { width, height } = photo;
  const scale = Math.min(1, TRACE_SIDE / Math.max(width, height));
  const traceWidth = Math.max(1, Math.round(width * scale));
  const traceHeight = Math.max(1, Math.round(height * scale));
  const rgba = await sharp(photo.rgb, { raw: { width, height, channels: 3 } })
    .resize(traceWidth, traceHeight, { fit: 'fill', kernel: 'lanczos3' })
    .ensureAlpha()
    .raw()
    .toBuffer();

  tracer ??= createRequire(import.meta.url)('imagetracerjs') as ImageTracer;
  const traced = tracer.imagedataToSVG(
    {
      width: traceWidth,
      height: traceHeight,
      data: new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength),
    },
    {
      numberofcolors: COLOURS,
      colorsampling: 2, // a deterministic grid of samples: the same photo gives the same SVG
      pathomit: 8,
      roundcoords: 1,
      // a 1 px stroke in each shape's own colour closes the hairline seams between neighbouring
      // shapes, which otherwise let the background show through (twice the colour error here)
      strokewidth: 1,
      scale: width / traceWidth,
    },
  );
  return { image: Buffer.from(withExactSize(traced, width, height), 'utf8'), width, height };
}

/**
 * Replaces the tracer's root tag (rounded scaled size, and a non-standard `desc` attribute) with
 * one that states the input's size exactly, with a viewBox so the SVG also scales cleanly.
 */
function withExactSize(svg: string, width: number, height: number): string {
  const rootEnd = svg.indexOf('>');
  if (!svg.startsWith('<svg ') || rootEnd < 0)
    throw new OperationError('internalServerError', 'The tracer produced no SVG.');
  const root = `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root}${svg.slice(rootEnd + 1)}`;
}
