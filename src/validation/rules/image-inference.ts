// imageInference's part of the rule catalogue: the procedural renderer under its two AIRs, the
// Runware AIRs it stands in for by name (FLUX.1, FLUX.2 [klein], Imagen 4), and Runware's
// generic ranges for every other AIR, operator engines' models included.

import {
  UNSUPPORTED,
  adapters,
  float,
  RASTER_FORMATS,
  images,
  int,
  type LocalModelRules,
  type ModelRules,
  type ParamRule,
  type TaskTypeRules,
} from '../model-rules.js';

/**
 * Runware's generic imageInference ranges (its API reference: width and height 128–2048 in
 * multiples of 64, steps 1–100, CFGScale 0–50, numberResults 1–20; JPG, PNG or WEBP, as its model
 * pages list). The counts bound what one task may carry: ten reference images is the most any
 * Runware model page names (FLUX.2 [flex]).
 */
const RUNWARE_IMAGE_GENERIC: Readonly<Record<string, ParamRule>> = {
  width: int(128, 2048, 64),
  height: int(128, 2048, 64),
  steps: int(1, 100),
  CFGScale: float(0, 50),
  numberResults: int(1, 20),
  referenceImages: images(0, 10),
  lora: adapters(0, 10),
  embeddings: adapters(0, 10),
  controlNet: adapters(0, 10),
  ipAdapters: adapters(0, 10),
  outputFormat: RASTER_FORMATS,
};

/** The procedural renderer takes the same parameters, and sizes from 64 px (cheap renders for tests and benchmarks). */
const PROCEDURAL_PARAMS: Readonly<Record<string, ParamRule>> = {
  ...RUNWARE_IMAGE_GENERIC,
  width: int(64, 2048, 64),
  height: int(64, 2048, 64),
};

/** What the procedural renderer really uses; everything else it accepts is checked, recorded and unused. */
const PROCEDURAL_HONOURS = [
  'positivePrompt',
  'model',
  'width',
  'height',
  'seed',
  'numberResults',
  'seedImage',
  'inputs.seedImage',
  'strength',
  'outputType',
  'outputFormat',
  'outputQuality',
  'includeCost',
  'safety',
  'checkNSFW',
] as const;

/** The sizes Runware's Imagen 4 pages list (1K at 1:1, 9:16, 16:9, 7:10, 10:7). */
const IMAGEN_4_SIZES = [
  [1024, 1024],
  [768, 1408],
  [1408, 768],
  [896, 1280],
  [1280, 896],
] as const;

/** Imagen 4 is text to image only, with no sampler settings or adapters. */
const IMAGEN_4_PARAMS: Readonly<Record<string, ParamRule>> = {
  ...RUNWARE_IMAGE_GENERIC,
  steps: UNSUPPORTED,
  CFGScale: UNSUPPORTED,
  scheduler: UNSUPPORTED,
  clipSkip: UNSUPPORTED,
  seedImage: UNSUPPORTED,
  maskImage: UNSUPPORTED,
  strength: UNSUPPORTED,
  referenceImages: UNSUPPORTED,
  lora: UNSUPPORTED,
  embeddings: UNSUPPORTED,
  vae: UNSUPPORTED,
  controlNet: UNSUPPORTED,
  ipAdapters: UNSUPPORTED,
};

/** FLUX.1 [dev] and [schnell] take no reference images (Runware's API reference: only FLUX.1 Kontext and ACE++). */
const FLUX_1_PARAMS: Readonly<Record<string, ParamRule>> = { ...RUNWARE_IMAGE_GENERIC, referenceImages: UNSUPPORTED };

const local: LocalModelRules[] = [
  {
    taskType: 'imageInference',
    air: 'runtrail:procedural@plasma-1',
    name: 'runtrail procedural plasma (not a diffusion model)',
    source: 'runtrail',
    params: PROCEDURAL_PARAMS,
    honours: PROCEDURAL_HONOURS,
  },
  {
    taskType: 'imageInference',
    air: 'runtrail:1@1',
    name: 'runtrail procedural plasma, earlier name',
    source: 'runtrail',
    params: PROCEDURAL_PARAMS,
    honours: PROCEDURAL_HONOURS,
  },
];

const runware: ModelRules[] = [
  {
    taskType: 'imageInference',
    air: 'runware:101@1',
    name: 'FLUX.1 [dev]',
    source: 'runware-generic',
    params: FLUX_1_PARAMS,
  },
  {
    taskType: 'imageInference',
    air: 'runware:100@1',
    name: 'FLUX.1 [schnell]',
    source: 'runware-generic',
    params: FLUX_1_PARAMS,
  },
  {
    taskType: 'imageInference',
    air: 'runware:400@1',
    name: 'FLUX.2 [klein]',
    source: 'runware-error',
    params: { ...RUNWARE_IMAGE_GENERIC, referenceImages: images(0, 4) },
  },
  ...(
    [
      ['google:2@1', 'Imagen 4 Preview'],
      ['google:2@2', 'Imagen 4 Ultra'],
      ['google:2@3', 'Imagen 4 Fast'],
    ] as const
  ).map(([air, name]): ModelRules => ({
    taskType: 'imageInference',
    air,
    name,
    source: 'runware-model-page',
    params: IMAGEN_4_PARAMS,
    sizes: IMAGEN_4_SIZES,
  })),
];

export const imageInferenceRules: TaskTypeRules = {
  taskType: 'imageInference',
  local,
  runware,
  generic: {
    taskType: 'imageInference',
    air: '*',
    name: 'any other AIR',
    source: 'runware-generic',
    params: RUNWARE_IMAGE_GENERIC,
  },
};
