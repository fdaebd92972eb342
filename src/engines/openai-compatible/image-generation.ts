// The `image-generation` operation on an OpenAI-compatible server: POST /images/generations
// (OpenAI's documented Images API, served by LocalAI and others), one image per call, answered
// as `b64_json` or as a `url` that runtrail fetches; the image is re-encoded in the format the
// task asked for.

import type { EncodedFormat, EncodedImage } from '../builtin/operation.js';

export interface ImageGenerationInput {
  model: string;
  prompt: string;
  negativePrompt?: string;
  width: number;
  height: number;
  seed: number;
  steps?: number;
  format: EncodedFormat;
  quality: number;
}

declare module '../builtin/ops/op-table.js' {
  interface OpTable {
    'image-generation': { input: ImageGenerationInput; output: EncodedImage };
  }
}

export function imageRequestBody(input: ImageGenerationInput): string {
  return JSON.stringify({
    model: input.model,
    prompt: input.prompt,
    n: 1,
    size: `${input.width}x${input.height}`,
    response_format: 'b64_json',
    // Beyond OpenAI's API: LocalAI and stable-diffusion servers read these; others ignore them.
    seed: input.seed,
    ...(input.negativePrompt !== undefined ? { negative_prompt: input.negativePrompt } : {}),
    ...(input.steps !== undefined ? { step: input.steps } : {}),
  });
}
