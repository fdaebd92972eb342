// The engine contract: run one validated task and produce its outputs. Task modules own the
// protocol (parameters, items, media URLs); engines own the work.

import type { ImageFormat } from '../media/media-store.js';

export interface ModelInfo {
  air: string;
  name: string;
  version: string;
  category: string;
  architecture: string;
  taskTypes: string[];
  defaultWidth: number;
  defaultHeight: number;
}

export interface ImageRequest {
  taskUUID: string;
  model: string;
  positivePrompt: string;
  negativePrompt: string | undefined;
  width: number;
  height: number;
  /** One seed per requested image. BigInt, so seeds above 2^53 stay distinct (seed, seed+1, …). */
  seeds: bigint[];
  format: ImageFormat;
  quality: number;
  /** An input image to start from (image-to-image), with how strongly to transform it (0..1). */
  baseImage: { data: Buffer; strength: number } | undefined;
  /** Called with progress (0–100) on image `index` by engines that can tell. */
  onProgress?: (index: number, percent: number) => void;
}

export interface GeneratedImage {
  data: Buffer;
  format: ImageFormat;
  width: number;
  height: number;
  seed: bigint;
}

export interface Engine {
  readonly name: string;
  models(): ModelInfo[];
  serves(taskType: string, model: string): boolean;
  /** One promise per requested image, so callers can deliver each as soon as it is ready. */
  generateImages(request: ImageRequest): Promise<GeneratedImage>[];
}

/** Picks the engine for a task: the first configured engine that serves its model. */
export class EngineRouter {
  constructor(private readonly engines: readonly Engine[]) {}

  forModel(taskType: string, model: string): Engine | undefined {
    return this.engines.find((e) => e.serves(taskType, model));
  }

  models(): ModelInfo[] {
    return this.engines.flatMap((e) => e.models());
  }
}
