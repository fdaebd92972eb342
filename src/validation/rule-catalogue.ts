// The one catalogue of per-model rules: for every model this server announces (its own runtrail
// models, and the Runware AIRs they stand in for), the parameters it takes and their limits.
// Validation (check-rules.ts) reads it, and the table in docs/protocol.md is generated from it
// (`npm run docs:validation`; a test compares both). A task naming an AIR not listed here gets
// its task type's generic rules: Runware's generic ranges for other AIRs, the engine's own for
// runtrail AIRs. Tasks routed to an upstream are judged by the upstream, not by these rules.

import {
  UNSUPPORTED,
  adapters,
  float,
  images,
  int,
  type LocalModelRules,
  type ModelRules,
  type ParamRule,
} from './model-rules.js';

/**
 * Runware's generic imageInference ranges (its API reference: width and height 128–2048 in
 * multiples of 64, steps 1–100, CFGScale 0–50, numberResults 1–20). The counts bound what one
 * task may carry: ten reference images is the most any Runware model page names (FLUX.2 [flex]).
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

export const LOCAL_MODEL_RULES: readonly LocalModelRules[] = [
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

/** Runware AIRs the local models stand in for, with Runware's rules for them. */
export const RUNWARE_MODEL_RULES: readonly ModelRules[] = [
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

/** Rules for AIRs the catalogue does not name, by task type: Runware's generic ranges. */
const GENERIC_RULES: Readonly<Record<string, ModelRules>> = {
  imageInference: {
    taskType: 'imageInference',
    air: '*',
    name: 'any other AIR',
    source: 'runware-generic',
    params: RUNWARE_IMAGE_GENERIC,
  },
};

const BY_KEY = new Map<string, ModelRules>();
for (const r of [...LOCAL_MODEL_RULES, ...RUNWARE_MODEL_RULES]) BY_KEY.set(`${r.taskType}\n${r.air.toLowerCase()}`, r);

/**
 * The rules a task naming `model` meets: the model's own, else its task type's generic rules
 * (a runtrail AIR without an entry has none beyond the task type's schema); undefined when the
 * task type has no per-model rules.
 */
export function rulesFor(taskType: string, model: string | null): ModelRules | undefined {
  if (model !== null) {
    const own = BY_KEY.get(`${taskType}\n${model.toLowerCase()}`);
    if (own) return own;
    if (model.toLowerCase().startsWith('runtrail:')) return undefined;
  }
  return genericRules(taskType);
}

/** The rules for an AIR of `taskType` the catalogue does not name (undefined: the schema alone). */
export function genericRules(taskType: string): ModelRules | undefined {
  return GENERIC_RULES[taskType];
}

/** Every entry of the catalogue, generic rules last (for the docs table and its test). */
export function allRules(): ModelRules[] {
  return [...LOCAL_MODEL_RULES, ...RUNWARE_MODEL_RULES, ...Object.values(GENERIC_RULES)];
}

/** The AIRs the catalogue gives Runware's rules for one task type (the local models announce them). */
export function runwareAirsFor(taskType: string): string[] {
  return RUNWARE_MODEL_RULES.filter((r) => r.taskType === taskType).map((r) => r.air);
}
