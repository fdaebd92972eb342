// TensorFlow.js for the operations that run TF.js models: the wasm backend (tfjs-node cannot
// install without a download, and the pure-JS cpu backend is about 20× slower), started once per
// thread, with its .wasm files and every model read from npm package folders on disk. tfjs-core
// has no file loader outside tfjs-node, so models are loaded either through a load router that
// answers `runtrail-file://<absolute path to model.json>` URLs (for libraries that take a URL,
// such as Human) or through an IOHandler reading a model folder. TensorFlow.js itself is imported
// on first use only: the main thread imports op files too, to ask for their availability.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Availability } from '../operation.js';

export type Tfjs = typeof TF;

const require = createRequire(import.meta.url);
const LOCAL_SCHEME = 'runtrail-file://';

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

/** The URL under which the load router serves a model.json file at `modelJsonPath`. */
export function localModelUrl(modelJsonPath: string): string {
  return LOCAL_SCHEME + modelJsonPath;
}

/** Folder of the wasm backend's .wasm files, with a trailing slash as setWasmPaths wants. */
export function wasmFolder(): string {
  const folder = packageFolder('@tensorflow/tfjs-backend-wasm');
  if (!folder) throw new Error('@tensorflow/tfjs-backend-wasm is not installed');
  return path.join(folder, 'dist') + path.sep;
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

/** TF.js on the wasm backend with the local model loader registered, started on first use in this thread. */
export function tfjs(): Promise<Tfjs> {
  starting ??= start().catch((err: unknown) => {
    starting = undefined; // a later call may try again
    throw err;
  });
  return starting;
}

/** The same runtime under the name the people operations use. */
export const loadTfjs = tfjs;

async function start(): Promise<Tfjs> {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  tf.io.registerLoadRouter((url): TF.io.IOHandler => {
    const first = Array.isArray(url) ? url[0] : url;
    // A router declines a URL by answering null (tfjs types leave that out).
    if (typeof first !== 'string' || !first.startsWith(LOCAL_SCHEME)) return null as unknown as TF.io.IOHandler;
    const file = first.slice(LOCAL_SCHEME.length);
    return { load: () => readModelArtifacts(file) };
  });
  wasm.setWasmPaths(wasmFolder());
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend did not start');
  await tf.ready();
  // Kernels keep intermediate tensors only inside tidy(); nothing here needs the debug checks.
  tf.enableProdMode();
  return tf;
}

/** Reads a TF.js layers/graph model (model.json plus the shards its manifest names) from `folder`. */
export function modelFolderHandler(folder: string): TF.io.IOHandler {
  return { load: () => readModelArtifacts(path.join(folder, 'model.json')) };
}

interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: object;
  userDefinedMetadata?: Record<string, object>;
  weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[];
}

async function readModelArtifacts(modelJsonPath: string): Promise<TF.io.ModelArtifacts> {
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as ModelJson;
  const folder = path.dirname(modelJsonPath);
  const weightSpecs: TF.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const shard of group.paths) shards.push(await readFile(path.join(folder, shard)));
  }
  const weights = Buffer.concat(shards);
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
    weightSpecs,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  };
}
