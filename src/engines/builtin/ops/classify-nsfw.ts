// NSFW classification with nsfwjs on TF.js wasm: MobileNetV2 (224², fast) or InceptionV3 (299²,
// slower and more accurate), both shipped inside the nsfwjs package as bundled weights. The
// networks score five classes (Drawing, Hentai, Neutral, Porn, Sexy) that sum to 1; `isNsfw`
// turns the scores into the protocol's NSFWContent.

import sharp from 'sharp';
import type * as TF from '@tensorflow/tfjs';
import { OperationError } from './operation-error.js';
import { asBuffer, type Availability } from '../operation.js';
import { packageFolder, tfjs, tfjsAvailability } from './tfjs-runtime.js';

export type NsfwNetwork = 'mobilenet-v2' | 'inception-v3';
export type NsfwClass = 'Drawing' | 'Hentai' | 'Neutral' | 'Porn' | 'Sexy';
export const NSFW_CLASSES: readonly NsfwClass[] = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

export interface ClassifyNsfwInput {
  /** Encoded image bytes, any format sharp reads. */
  image: Uint8Array;
  network: NsfwNetwork;
}

export interface ClassifyNsfwOutput {
  network: NsfwNetwork;
  /** Each class's probability as the network gave it (they sum to 1). */
  scores: Record<NsfwClass, number>;
  nsfw: boolean;
}

declare module './op-table.js' {
  interface OpTable {
    'classify-nsfw': { input: ClassifyNsfwInput; output: ClassifyNsfwOutput };
  }
}

/** The classes that count as not safe for work. */
export const UNSAFE_CLASSES: readonly NsfwClass[] = ['Porn', 'Hentai', 'Sexy'];
/** An image is NSFW when the unsafe classes together are more likely than the safe ones. */
export const NSFW_THRESHOLD = 0.5;

export function isNsfw(scores: Record<NsfwClass, number>): boolean {
  return UNSAFE_CLASSES.reduce((sum, name) => sum + scores[name], 0) > NSFW_THRESHOLD;
}

export function availability(): Availability {
  const runtime = tfjsAvailability();
  if (!runtime.ready) return runtime;
  if (!packageFolder('nsfwjs')) return { ready: false, reason: 'nsfwjs is not installed' };
  return { ready: true };
}

interface Classifier {
  size: number;
  classify(image: TF.Tensor3D, topk: number): Promise<{ className: string; probability: number }[]>;
}

const classifiers = new Map<NsfwNetwork, Promise<Classifier>>();

function classifier(network: NsfwNetwork): Promise<Classifier> {
  let loading = classifiers.get(network);
  if (!loading) {
    loading = loadClassifier(network).catch((err: unknown) => {
      throw new OperationError(
        'engineUnavailable',
        `the nsfwjs ${network} model did not load (${(err as Error).message})`,
      );
    });
    loading.catch(() => classifiers.delete(network)); // a later call may try again
    classifiers.set(network, loading);
  }
  return loading;
}

/** What an nsfwjs model module exports: its options, model.json and weight shards, each as a lazy import. */
interface BundledModelDefinition {
  name: string;
  options?: { size?: number; type?: 'graph' | 'layers' };
  modelJson: () => Promise<{ default: unknown }>;
  numOfWeightBundles: number;
  weightBundles: (() => Promise<{ default: string }>)[];
}

/** The weights come from nsfwjs's own bundles (base64 inside the package), handed over through an IOHandler. */
async function loadClassifier(network: NsfwNetwork): Promise<Classifier> {
  await tfjs();
  const { NSFWJS } = await import('nsfwjs/core');
  // nsfwjs 4.3 ships no typings for its model subpaths; this is the shape both modules export.
  const definition = (
    network === 'mobilenet-v2'
      ? ((await import('nsfwjs/models/mobilenet_v2')) as { MobileNetV2Model: unknown }).MobileNetV2Model
      : ((await import('nsfwjs/models/inception_v3')) as { InceptionV3Model: unknown }).InceptionV3Model
  ) as BundledModelDefinition;
  const size = definition.options?.size ?? 224;
  const modelJson = (await definition.modelJson()).default as BundledModelJson;
  const shards = new Map<string, string>();
  for (let i = 0; i < definition.numOfWeightBundles; i++) {
    const bundle = definition.weightBundles[i];
    if (!bundle) throw new Error(`nsfwjs ${definition.name} lacks weight bundle ${i + 1}`);
    shards.set(`group1-shard${i + 1}of${definition.numOfWeightBundles}`, (await bundle()).default);
  }
  const handler: TF.io.IOHandler = {
    async load() {
      const weightSpecs: TF.io.WeightsManifestEntry[] = [];
      const parts: Buffer[] = [];
      for (const group of modelJson.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const shard of group.paths) {
          const base64 = shards.get(shard);
          if (base64 === undefined) throw new Error(`nsfwjs ${definition.name} lacks weight shard ${shard}`);
          parts.push(Buffer.from(base64, 'base64'));
        }
      }
      const weights = Buffer.concat(parts);
      return {
        modelTopology: modelJson.modelTopology,
        format: modelJson.format,
        weightSpecs,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      };
    },
  };
  // Built from a handler rather than nsfwjs's load(name), which prints a console banner.
  const model = new NSFWJS(handler, { size, type: definition.options?.type });
  await model.load();
  return {
    size,
    classify: (image, topk) => model.classify(image, topk),
  };
}

interface BundledModelJson {
  modelTopology: object;
  format?: string;
  weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[];
}

export async function run(input: ClassifyNsfwInput): Promise<ClassifyNsfwOutput> {
  const net = await classifier(input.network);
  const bytes = asBuffer(input.image);
  // The network's own input size, the whole picture squeezed in (as the network was trained).
  const pixels = await sharp(bytes)
    .rotate()
    .resize(net.size, net.size, { fit: 'fill' })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw()
    .toBuffer()
    .catch(() => {
      throw new OperationError('invalidImage', 'The data is not a readable image.', 'image');
    });
  const tf = await tfjs();
  const tensor = tf.tensor3d(pixels, [net.size, net.size, 3], 'int32');
  try {
    const ranked = await net.classify(tensor, NSFW_CLASSES.length);
    const scores = Object.fromEntries(NSFW_CLASSES.map((name) => [name, 0])) as Record<NsfwClass, number>;
    for (const { className, probability } of ranked) {
      if ((NSFW_CLASSES as readonly string[]).includes(className)) scores[className as NsfwClass] = probability;
    }
    return { network: input.network, scores, nsfw: isNsfw(scores) };
  } finally {
    tensor.dispose();
  }
}
