// The built-in CPU engine: renders procedural images with sharp. It serves its own `runtrail:`
// models and, while it is the only engine configured, any well-formed AIR, so client code
// written for other servers (`runware:101@1`, …) runs unchanged against a fresh runtrail.

import sharp from 'sharp';
import type { Engine, GeneratedImage, ImageRequest, ModelInfo } from '../engine.js';
import { renderPlasma } from './procedural-image.js';
import { readTestSwitches, withTestSwitches } from './test-switches.js';

const BUILTIN_MODELS: ModelInfo[] = [
  {
    air: 'runtrail:1@1',
    name: 'runtrail plasma',
    version: '1',
    category: 'checkpoint',
    architecture: 'procedural',
    taskTypes: ['imageInference'],
    defaultWidth: 512,
    defaultHeight: 512,
  },
];

export class BuiltinEngine implements Engine {
  readonly name = 'builtin';

  constructor(private readonly servesAnyModel: boolean) {}

  models(): ModelInfo[] {
    return BUILTIN_MODELS;
  }

  serves(taskType: string, model: string): boolean {
    if (taskType !== 'imageInference') return false;
    return this.servesAnyModel || model.startsWith('runtrail:');
  }

  generateImages(request: ImageRequest): Promise<GeneratedImage>[] {
    const switches = readTestSwitches(request.positivePrompt);
    if (!switches) return request.seeds.map((seed) => this.renderOne(request, seed));
    return request.seeds.map((seed, i) => withTestSwitches(switches, i, request.onProgress, () => this.renderOne(request, seed)));
  }

  private async renderOne(req: ImageRequest, seed: bigint): Promise<GeneratedImage> {
    const { width, height } = req;
    const pixels = renderPlasma(width, height, seed, req.model, req.positivePrompt);
    if (req.baseImage) {
      const base = await sharp(req.baseImage.data)
        .resize(width, height, { fit: 'cover' })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer();
      const s = req.baseImage.strength;
      for (let i = 0; i < pixels.length; i++) pixels[i] = Math.round(base[i]! * (1 - s) + pixels[i]! * s);
    }
    let image = sharp(pixels, { raw: { width, height, channels: 3 } });
    image =
      req.format === 'png'
        ? image.png()
        : req.format === 'webp'
          ? image.webp({ quality: req.quality })
          : image.jpeg({ quality: req.quality });
    return { data: await image.toBuffer(), format: req.format, width, height, seed };
  }
}
