// @vladmandic/human (MIT) for the people operations: one Human instance per thread, created on
// first use with every model it needs read from the package's own models/ folder (its defaults
// are CDN URLs). Results leave as plain numbers so they survive structured clone. Imported by
// the operations on first run only (it pulls in TensorFlow.js).

import { createRequire } from 'node:module';
import path from 'node:path';
import sharp from 'sharp';
import type { Config, Human, Result } from '@vladmandic/human';
import { loadTfjs, localModelUrl, wasmFolder } from './tfjs-runtime.js';
import { OperationError } from './operation-error.js';
import { uprightSize } from './upright-size.js';
import {
  ANALYSIS_SIDE,
  humanFolder,
  type Box,
  type DetectOptions,
  type PeopleFound,
  type Point,
} from './human-files.js';

const require = createRequire(import.meta.url);

let human: Promise<Human> | undefined;

function loadHuman(): Promise<Human> {
  human ??= (async () => {
    await loadTfjs();
    const { Human: HumanClass } = require(
      path.join(humanFolder(), 'dist/human.node-wasm.js'),
    ) as typeof import('@vladmandic/human');
    const config: Partial<Config> = {
      backend: 'wasm',
      wasmPath: wasmFolder(),
      modelBasePath: localModelUrl(path.join(humanFolder(), 'models') + path.sep),
      cacheModels: false,
      debug: false,
      async: true,
      filter: { enabled: false },
      gesture: { enabled: false },
      segmentation: { enabled: false },
      face: {
        enabled: true,
        detector: {
          modelPath: 'blazeface.json',
          rotation: false,
          maxDetected: 20,
          minConfidence: 0.2,
          iouThreshold: 0.1,
          return: false,
          skipFrames: 0,
          skipTime: 0,
          mask: false,
          cropFactor: 1.6,
        } as Config['face']['detector'],
        mesh: { enabled: true, modelPath: 'facemesh.json', keepInvalid: false },
        iris: { enabled: true, modelPath: 'iris.json', scale: 2.3 },
        description: { enabled: true, modelPath: 'faceres.json', minConfidence: 0.1, skipFrames: 0, skipTime: 0 },
        emotion: { enabled: false },
        antispoof: { enabled: false },
        liveness: { enabled: false },
        attention: { enabled: false },
        gear: { enabled: false },
      },
      body: {
        enabled: true,
        modelPath: 'movenet-lightning.json',
        maxDetected: 1,
        minConfidence: 0.2,
        skipFrames: 0,
        skipTime: 0,
      },
      hand: {
        enabled: true,
        rotation: true,
        maxDetected: 20,
        minConfidence: 0.3,
        iouThreshold: 0.2,
        skipFrames: 0,
        skipTime: 0,
        landmarks: true,
        detector: { modelPath: 'handtrack.json' },
        skeleton: { modelPath: 'handlandmark-lite.json' },
      },
      object: {
        enabled: true,
        modelPath: 'centernet.json',
        minConfidence: 0.2,
        iouThreshold: 0.4,
        maxDetected: 20,
        skipFrames: 0,
        skipTime: 0,
      },
    };
    const instance = new HumanClass(config);
    await instance.load();
    return instance;
  })().catch((err: unknown) => {
    throw new OperationError(
      'engineUnavailable',
      `The people models (@vladmandic/human) could not load: ${(err as Error).message}`,
    );
  });
  human.catch(() => {
    human = undefined; // a failed load is retried by the next call rather than cached
  });
  return human;
}

/** Decodes any image sharp reads, upright (EXIF), as RGB pixels no larger than the analysis size. */
export async function decodeForAnalysis(image: Uint8Array): Promise<{
  rgb: Uint8Array;
  width: number;
  height: number;
  scale: number;
  original: { width: number; height: number };
}> {
  const bytes = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  const original = await uprightSize(bytes, 'this model');
  const scale = Math.min(1, ANALYSIS_SIDE / Math.max(original.width, original.height));
  const width = Math.max(1, Math.round(original.width * scale));
  const height = Math.max(1, Math.round(original.height * scale));
  try {
    const rgb = await sharp(bytes)
      .rotate()
      .resize(width, height, { fit: 'fill' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    return { rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength), width, height, scale, original };
  } catch {
    throw new OperationError('invalidInputImage', 'The input image could not be decoded.');
  }
}

// Human keeps one mutable config; calls in one thread take turns so options never mix.
let turn: Promise<unknown> = Promise.resolve();

/** Runs the models `options` ask for on an encoded image; coordinates are in input pixels. */
export async function detectPeople(image: Uint8Array, options: DetectOptions): Promise<PeopleFound> {
  const decoded = await decodeForAnalysis(image);
  const instance = await loadHuman();
  const run = turn.then(() => analyse(instance, decoded, options));
  turn = run.catch(() => undefined);
  return run;
}

async function analyse(
  instance: Human,
  decoded: Awaited<ReturnType<typeof decodeForAnalysis>>,
  o: DetectOptions,
): Promise<PeopleFound> {
  const tf = await loadTfjs();
  const k = 1 / decoded.scale;
  const pt = (p: readonly (number | undefined)[]): Point => [(p[0] ?? 0) * k, (p[1] ?? 0) * k];
  const box = (b: readonly (number | undefined)[]): Box => [
    (b[0] ?? 0) * k,
    (b[1] ?? 0) * k,
    (b[2] ?? 0) * k,
    (b[3] ?? 0) * k,
  ];
  const tensor = tf.tensor3d(decoded.rgb, [decoded.height, decoded.width, 3], 'int32');
  let result: Result;
  try {
    result = await instance.detect(tensor, {
      face: {
        enabled: o.faces === true,
        detector: { maxDetected: o.maxDetected, minConfidence: o.minConfidence },
        mesh: { enabled: o.mesh === true || o.age === true },
        iris: { enabled: o.mesh === true },
        description: { enabled: o.age === true },
      },
      body: { enabled: o.bodies === true, minConfidence: Math.min(o.minConfidence, 0.3) },
      hand: { enabled: o.hands === true, maxDetected: o.maxDetected, minConfidence: o.minConfidence },
      object: { enabled: o.objects === true, maxDetected: o.maxDetected, minConfidence: o.minConfidence },
    });
  } finally {
    tensor.dispose();
  }
  if (result.error) throw new Error(`Human detection failed: ${result.error}`);
  // Without the mesh some annotation groups hold holes; only real points are kept.
  const annotationsOf = (a: Record<string, (number[] | undefined)[]>): Record<string, Point[]> =>
    Object.fromEntries(
      Object.entries(a).map(([name, points]) => [name, points.filter((p): p is number[] => Array.isArray(p)).map(pt)]),
    );
  return {
    width: decoded.original.width,
    height: decoded.original.height,
    faces: result.face.map((f) => ({
      box: box(f.box),
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- Human's typings say set; older models leave it out
      score: f.boxScore ?? f.score,
      age: typeof f.age === 'number' && Number.isFinite(f.age) ? f.age : null,
      mesh: f.mesh.map(pt),
      annotations: annotationsOf(f.annotations as unknown as Record<string, (number[] | undefined)[]>),
    })),
    bodies: result.body.map((b) => ({
      box: box(b.box),
      score: b.score,
      keypoints: b.keypoints.map((kp) => ({
        part: kp.part,
        x: kp.position[0] * k,
        y: kp.position[1] * k,
        score: kp.score,
      })),
    })),
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as for faces
    hands: result.hand.map((h) => ({ box: box(h.box), score: h.boxScore ?? h.score, keypoints: h.keypoints.map(pt) })),
    objects: result.object.map((obj) => ({ box: box(obj.box), score: obj.score, label: obj.label })),
  };
}
