// Checks a task against the rules of the model it names (rule-catalogue.ts), before the task
// type's schema: a model's limits are narrower than the schema's, so a value outside them must be
// answered with the model's limits. Runware's codes: `invalid<Param>` with min/max/multiplier,
// `invalid<Param>Count` for an array's size (worded as Runware's own error for reference images),
// `unsupportedParameter` for a parameter the model does not take, `unsupported<Param>` for a
// value it does not take (`unsupportedDuration`, `unsupportedOutputFormat`), `unsupportedDimensions`
// for a size off its list.

import { ProtocolError, invalidCode, invalidCountCode, upperFirst } from '../protocol/errors.js';
import { AIR_PATTERN } from '../tasks/validate.js';
import type { CountRule, ModelRules, ParamRule, RangeRule, ValuesRule } from './model-rules.js';
import { ruleModelOf, rulesFor } from './rule-catalogue.js';

/** Media parameters a task may give at its root or inside `inputs` (the newer schema). */
const INPUT_NAMES = new Set(['seedImage', 'maskImage', 'referenceImages', 'frameImages']);

/** How a count error names an array's elements. */
const LABELS: Readonly<Record<string, string>> = {
  referenceImages: 'Reference images',
  frameImages: 'Frame images',
  lora: 'LoRA models',
  embeddings: 'Embeddings',
  controlNet: 'ControlNet models',
  ipAdapters: 'IP-Adapters',
};

/** Types errors name for parameters that have no range rule of their own (by the name's last segment). */
const PARAM_TYPES: Readonly<Record<string, string>> = {
  speech: 'object',
  settings: 'object',
  prompt: 'string',
  positivePrompt: 'string',
  lowThresholdCanny: 'integer',
  highThresholdCanny: 'integer',
  includeHandsAndFaceOpenPose: 'boolean',
  upscaleFactor: 'integer',
  seedImage: 'string',
  maskImage: 'string',
  referenceImages: 'string[]',
  frameImages: 'object[]',
  strength: 'float',
  scheduler: 'string',
  clipSkip: 'integer',
  vae: 'string',
  lora: 'object[]',
  embeddings: 'object[]',
  controlNet: 'object[]',
  ipAdapters: 'object[]',
  steps: 'integer',
  CFGScale: 'float',
  duration: 'float',
  fps: 'integer',
  outputFormat: 'string',
  rgba: 'float[]',
  postProcessMask: 'boolean',
  returnOnlyMask: 'boolean',
  alphaMatting: 'boolean',
  alphaMattingForegroundThreshold: 'integer',
  alphaMattingBackgroundThreshold: 'integer',
  alphaMattingErodeSize: 'integer',
};

const AIR = new RegExp(AIR_PATTERN);

/** Throws the first violation of the named model's rules; a task whose model is not an AIR is left to the schema. */
export function checkModelRules(taskType: string, task: Readonly<Record<string, unknown>>): void {
  const model = ruleModelOf(taskType, task);
  if (model !== undefined && (typeof model !== 'string' || !AIR.test(model))) return;
  const rules = rulesFor(taskType, model ?? null);
  if (rules) checkRules(rules, task);
}

/** Throws the first violation of `rules` by `task` (the parameters in catalogue order, then the size). */
export function checkRules(rules: ModelRules, task: Readonly<Record<string, unknown>>): void {
  for (const [name, rule] of Object.entries(rules.params)) {
    for (const path of INPUT_NAMES.has(name) ? [name, `inputs.${name}`] : [name]) {
      const value = valueAt(task, path);
      if (value !== undefined) checkParam(rules, name, path, rule, value);
    }
  }
  if (rules.sizes) checkSizes(rules, rules.sizes, task);
}

function valueAt(task: Readonly<Record<string, unknown>>, path: string): unknown {
  let at: unknown = task;
  for (const segment of path.split('.')) {
    if (typeof at !== 'object' || at === null || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[segment];
  }
  return at;
}

function checkParam(rules: ModelRules, dotted: string, path: string, rule: ParamRule, value: unknown): void {
  // A nested parameter (`settings.lowThresholdCanny`) is named by its last segment in codes.
  const name = dotted.slice(dotted.lastIndexOf('.') + 1);
  switch (rule.kind) {
    case 'range':
      checkRange(name, path, rule, value);
      return;
    case 'count':
      checkCount(name, path, rule, value);
      return;
    case 'values':
      checkValues(rules, name, path, rule, value);
      return;
    case 'unsupported':
      throw new ProtocolError(
        'unsupportedParameter',
        { feature: `Parameter '${path}' of model '${rules.air}' (${rules.name})` },
        {
          parameter: path,
          type: PARAM_TYPES[name] ?? 'string',
        },
      );
  }
}

function checkRange(name: string, path: string, r: RangeRule, value: unknown): void {
  const fits =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (r.type === 'float' || Number.isInteger(value)) &&
    (r.min === undefined || value >= r.min) &&
    (r.max === undefined || value <= r.max) &&
    (r.multiple === undefined || value % r.multiple === 0);
  if (fits) return;
  const article = r.type === 'integer' ? 'an integer' : 'a number';
  const range =
    r.min !== undefined && r.max !== undefined
      ? ` between ${r.min} and ${r.max}`
      : r.min !== undefined
        ? ` of at least ${r.min}`
        : r.max !== undefined
          ? ` of at most ${r.max}`
          : '';
  const step = r.multiple !== undefined ? `, in multiples of ${r.multiple}` : '';
  throw new ProtocolError(
    invalidCode(name),
    { parameter: path, reason: `It must be ${article}${range}${step}.` },
    {
      parameter: path,
      type: r.type,
      min: r.min,
      max: r.max,
      multiplier: r.multiple,
    },
  );
}

function checkCount(name: string, path: string, r: CountRule, value: unknown): void {
  // Not an array: the task type's schema says so, with the parameter's type.
  if (!Array.isArray(value) || (value.length >= r.min && value.length <= r.max)) return;
  // Worded as Runware words it (its error for five reference images): the limits are in the
  // message, and the error carries no min/max fields.
  throw new ProtocolError(
    invalidCountCode(name),
    { name, reason: `${LABELS[name] ?? upperFirst(name)} must contain between ${r.min} and ${r.max}.` },
    { parameter: path, type: r.type },
  );
}

function checkValues(rules: ModelRules, name: string, path: string, r: ValuesRule, value: unknown): void {
  // A value of another type is the schema's to refuse (invalid<Param> with the parameter's type).
  const kind = r.type === 'string' ? 'string' : 'number';
  if (typeof value !== kind) return;
  const same = (a: string | number) =>
    typeof a === 'string' && typeof value === 'string' ? a.toLowerCase() === value.toLowerCase() : a === value;
  if (r.allowed.some(same)) return;
  if (r.among && !r.among.some(same)) return;
  const listed = r.allowed.map((v) => String(v)).join(', ');
  // The unsupported<Param> codes (unsupportedDuration, …) share invalid<Param>'s template.
  const code =
    r.refusal === 'unsupported' ? (`unsupported${upperFirst(name)}` as 'unsupportedDuration') : invalidCode(name);
  throw new ProtocolError(
    code,
    { parameter: path, reason: `Model '${rules.air}' (${rules.name}) takes ${name} ${listed} only.` },
    { parameter: path, type: r.type, allowedValues: r.allowed },
  );
}

function checkSizes(
  rules: ModelRules,
  sizes: readonly (readonly [number, number])[],
  task: Readonly<Record<string, unknown>>,
): void {
  const { width, height } = task;
  // Without both numbers the schema answers (missingWidth, invalidHeight, …).
  if (typeof width !== 'number' || typeof height !== 'number') return;
  if (sizes.some(([w, h]) => w === width && h === height)) return;
  const listed = sizes.map(([w, h]) => `${w}x${h}`);
  throw new ProtocolError(
    'unsupportedDimensions',
    {
      size: `${width}x${height}`,
      model: `'${rules.air}' (${rules.name})`,
      reason: `It takes width x height ${listed.join(', ')}.`,
    },
    { parameter: 'width', type: 'integer', allowedValues: listed },
  );
}
