// taskType -> module. Adding a task type means adding its file and one line here.

import { getResponse } from './get-response.js';
import { getTaskDetails } from './get-task-details.js';
import { imageInference } from './image-inference.js';
import { imageUpload } from './image-upload.js';
import { mediaStorage } from './media-storage.js';
import { modelSearch } from './model-search.js';
import { upscale } from './upscale.js';
import { removeBackground } from './remove-background.js';
import { vectorize } from './vectorize.js';
import { imageMasking } from './image-masking.js';
import { controlNetPreprocess } from './controlnet-preprocess.js';
import { caption } from './caption.js';
import { audioInference } from './audio-inference.js';
import { videoInference } from './video-inference.js';
import type { TaskModule } from './task-module.js';
import type { PriceRule } from '../config.js';
import type { EngineRouter } from '../engines/engine.js';
import { forwardedTask, unroutableTask } from './forward.js';
import { textInference } from './text-inference.js';
import { promptEnhance } from './prompt-enhance.js';

const MODULES: readonly TaskModule[] = [
  imageInference,
  imageUpload,
  getTaskDetails,
  getResponse,
  upscale,
  modelSearch,
  mediaStorage,
  removeBackground,
  vectorize,
  imageMasking,
  controlNetPreprocess,
  caption,
  textInference,
  promptEnhance,
  audioInference,
  videoInference,
];

const BY_TYPE = new Map<string, TaskModule>();
for (const m of MODULES) {
  BY_TYPE.set(m.taskType, m);
  if (m.kind === 'recorded') for (const alias of m.aliases ?? []) BY_TYPE.set(alias, m);
}

/** Every task module's default prices, as price rules (RUNTRAIL_PRICES_FILE's rules come before them). */
export function defaultPrices(): PriceRule[] {
  return MODULES.flatMap((m) =>
    m.kind === 'recorded'
      ? (m.prices ?? []).map((p) => ({ taskType: m.taskType, model: p.model, perItem: p.perItem }))
      : [],
  );
}

export function findTaskModule(taskType: string): TaskModule | undefined {
  return BY_TYPE.get(taskType);
}

/** Task types always answered here: modelSearch lists what the routes reach; lookups read this ledger. */
const ALWAYS_LOCAL = new Set(['modelSearch']);

/**
 * The module that runs a task, given the routes: a forwarding engine's pass-through for tasks
 * routed to one (any task type, even those without a module here), a refusal for a model no
 * route takes, otherwise the task type's own module.
 */
export function routeTaskModule(taskType: string, model: unknown, engines: EngineRouter): TaskModule | undefined {
  const local = findTaskModule(taskType);
  if (local?.kind === 'lookup' || ALWAYS_LOCAL.has(taskType)) return local;
  const m = typeof model === 'string' ? model : null;
  if (engines.forwarderFor(taskType, m)) return forwardedTask;
  if (!local && !engines.routable(taskType, m)) return unroutableTask;
  return local;
}

/** Every taskType this server answers, for the unsupportedTaskType message. */
export function supportedTaskTypes(): string[] {
  return [...BY_TYPE.keys(), 'authentication', 'ping'].sort();
}

/**
 * Task types of the Runware protocol (docs/protocol.md, "Task types and their documented limits") that this server knows of
 * but runs no engine for. They answer `unsupportedTaskType` naming the supported types, exactly
 * like unknown names, and are recorded in the ledger like every task with a taskUUID.
 */
export const KNOWN_TASK_TYPES_NOT_RUN = [
  '3dInference',
  'training',
  'modelUpload',
  'photoMaker',
  'accountManagement',
] as const;
