// TensorFlow.js for the operations that run TF.js models: the wasm backend (the pure-JS cpu
// backend is about 20× slower, and tfjs-node cannot be installed without a download), started
// once per thread, with its .wasm files read from the installed package, and an IOHandler that
// reads a layers model's model.json and weight shards from disk (tfjs has no file:// loader).

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Availability } from '../operation.js';

export type Tfjs = typeof TF;

const require = createRequire(import.meta.url);

/**
 * The folder an npm package is installed in, or undefined. Found through Node's own search paths
 * rather than `require.resolve('<pkg>/package.json')`, since some packages (@upscalerjs/*) do not
 * export their package.json.
 */
export function packageFolder(name: string): string | undefined {
  for (const base of require.resolve.paths(name) ?? []) {
    const folder = path.join(base, name);
    if (existsSync(path.join(folder, 'package.json'))) return folder;
  }
  return undefined;
}

/** Cheap check, no load: are TF.js and its wasm backend installed? */
export function tfjsAvailability(): Availability {
  if (!packageFolder('@tensorflow/tfjs')) return { ready: false, reason: '@tensorflow/tfjs is not installed' };
  const wasm = packageFolder('@tensorflow/tfjs-backend-wasm');
  if (!wasm || !existsSync(path.join(wasm, 'dist', 'tfjs-backend-wasm-simd.wasm'))) {
    return { ready: false, reason: '@tensorflow/tfjs-backend-wasm (with its .wasm files) is not installed' };
  }
  return { ready: true };
}

let starting: Promise<Tfjs> | undefined;

/** TF.js on the wasm backend, started on first use in this thread. */
export function tfjs(): Promise<Tfjs> {
  starting ??= start().catch((err: unknown) => {
    starting = undefined; // a later call may try again
    throw err;
  });
  return starting;
}

async function start(): Promise<Tfjs> {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const folder = packageFolder('@tensorflow/tfjs-backend-wasm');
  if (!folder) throw new Error('@tensorflow/tfjs-backend-wasm is not installed');
  wasm.setWasmPaths(path.join(folder, 'dist') + path.sep);
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend did not start');
  await tf.ready();
  // Kernels keep intermediate tensors only inside tidy(); nothing here needs the debug checks.
  tf.enableProdMode();
  return tf;
}

/** Reads a TF.js layers/graph model (model.json plus the shards its manifest names) from `folder`. */
export function modelFolderHandler(folder: string): TF.io.IOHandler {
  return {
    async load() {
      const manifest = JSON.parse(readFileSync(path.join(folder, 'model.json'), 'utf8')) as ModelJson;
      const weightSpecs: TF.io.WeightsManifestEntry[] = [];
      const shards: Buffer[] = [];
      for (const group of manifest.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const shard of group.paths) shards.push(readFileSync(path.join(folder, shard)));
      }
      const weights = Buffer.concat(shards);
      return {
        modelTopology: manifest.modelTopology,
        format: manifest.format,
        generatedBy: manifest.generatedBy,
        convertedBy: manifest.convertedBy,
        weightSpecs,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      };
    },
  };
}

interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[];
}
