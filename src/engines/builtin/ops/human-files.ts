// What the people operations need installed, and the plain shapes their results take. Light on
// purpose (no TensorFlow.js import): the main thread loads it to answer availability().

import { createRequire } from 'node:module';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { wasmFolder } from './tfjs-runtime.js';
import type { Availability } from '../operation.js';

const require = createRequire(import.meta.url);

// The bundle and the model files the people operations load (all MIT or Apache-2.0 weights).
const HUMAN_FILES = [
  'dist/human.node-wasm.js',
  ...[
    'blazeface',
    'facemesh',
    'iris',
    'faceres',
    'movenet-lightning',
    'handtrack',
    'handlandmark-lite',
    'centernet',
  ].flatMap((m) => [`models/${m}.json`, `models/${m}.bin`]),
];

/** Largest input the people operations accept, in pixels (as the upscaler's output cap). */
export const MAX_INPUT_PIXELS = 4096 * 4096;
/** Images are analysed at most this large (longest side); coordinates are scaled back. */
export const ANALYSIS_SIDE = 1280;

export type Point = [number, number];
/** [x, y, width, height] in pixels of the input image. */
export type Box = [number, number, number, number];

export interface FaceFound {
  box: Box;
  score: number;
  /** Estimated age in years from the face description model. */
  age: number | null;
  /** 468 face-mesh points (478 with irises), pixels of the input image. */
  mesh: Point[];
  annotations: Record<string, Point[]>;
}
export interface BodyFound {
  box: Box;
  score: number;
  keypoints: { part: string; x: number; y: number; score: number }[];
}
export interface HandFound {
  box: Box;
  score: number;
  keypoints: Point[];
}
export interface ObjectFound {
  box: Box;
  score: number;
  label: string;
}
export interface PeopleFound {
  width: number;
  height: number;
  faces: FaceFound[];
  bodies: BodyFound[];
  hands: HandFound[];
  objects: ObjectFound[];
}

export interface DetectOptions {
  faces?: boolean;
  /** Face mesh and irises (needs faces). */
  mesh?: boolean;
  /** Age from the face description model (needs faces). */
  age?: boolean;
  bodies?: boolean;
  hands?: boolean;
  objects?: boolean;
  minConfidence: number;
  maxDetected: number;
}

export function humanFolder(): string {
  // The package's exports map hides package.json; its main file lives in dist/.
  return path.resolve(path.dirname(require.resolve('@vladmandic/human')), '..');
}

/** Cheap check, no model load: are the package, its models and the wasm backend installed? */
export function humanAvailability(): Availability {
  try {
    const folder = humanFolder();
    for (const file of HUMAN_FILES) {
      if (!existsSync(path.join(folder, file)))
        return { ready: false, reason: `@vladmandic/human is installed without ${file}` };
    }
    if (!existsSync(path.join(wasmFolder(), 'tfjs-backend-wasm-simd.wasm')))
      return { ready: false, reason: '@tensorflow/tfjs-backend-wasm is installed without its .wasm files' };
    return { ready: true };
  } catch (err) {
    return {
      ready: false,
      reason: `@vladmandic/human or its models are not installed (${(err as Error).message.split('\n')[0]})`,
    };
  }
}
