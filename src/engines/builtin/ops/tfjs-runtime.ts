// TensorFlow.js for operations: the wasm backend (tfjs-node cannot install here, and the pure-JS
// cpu backend is about 20× slower), with its .wasm files and every model read from npm package
// folders on disk. tfjs-core has no file loader outside tfjs-node, so a load router answers
// `runtrail-file://<absolute path to model.json>` URLs by reading model.json and its shards.
// TensorFlow.js itself is imported on first use only: the main thread imports op files too.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Tfjs from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);
const LOCAL_SCHEME = 'runtrail-file://';

/** The URL under which the load router serves a model.json file at `modelJsonPath`. */
export function localModelUrl(modelJsonPath: string): string {
  return LOCAL_SCHEME + modelJsonPath;
}

/** Folder of the wasm backend's .wasm files, with a trailing slash as setWasmPaths wants. */
export function wasmFolder(): string {
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
}

interface WeightsGroup {
  paths: string[];
  weights: Tfjs.io.WeightsManifestEntry[];
}

async function readModelArtifacts(modelJsonPath: string): Promise<Tfjs.io.ModelArtifacts> {
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as Tfjs.io.ModelJSON & { weightsManifest: WeightsGroup[] };
  const folder = path.dirname(modelJsonPath);
  const specs: Tfjs.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
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
    weightSpecs: specs,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  };
}

let ready: Promise<typeof Tfjs> | undefined;

/** TensorFlow.js on the wasm backend with the local model loader registered (once per thread). */
export function loadTfjs(): Promise<typeof Tfjs> {
  ready ??= (async () => {
    const tf = await import('@tensorflow/tfjs');
    const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
    tf.io.registerLoadRouter((url): Tfjs.io.IOHandler => {
      const first = Array.isArray(url) ? url[0] : url;
      // A router declines a URL by answering null (tfjs types leave that out).
      if (typeof first !== 'string' || !first.startsWith(LOCAL_SCHEME)) return null as unknown as Tfjs.io.IOHandler;
      const file = first.slice(LOCAL_SCHEME.length);
      return { load: () => readModelArtifacts(file) };
    });
    setWasmPaths(wasmFolder());
    if (!(await tf.setBackend('wasm'))) throw new Error('the TensorFlow.js wasm backend did not start');
    await tf.ready();
    return tf;
  })();
  ready.catch(() => {
    ready = undefined;
  });
  return ready;
}
