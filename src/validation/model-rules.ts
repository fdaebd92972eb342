// The shape of a model's rules: which parameters a model takes and within which limits. The task
// type's schema (src/tasks/<type>.ts) says what a parameter is and its widest range; a model's
// rules narrow that (its own range, a count of images, a list of sizes or durations) or refuse a
// parameter the model does not take. docs/adding-a-task-type.md explains how a task type plugs in.

/** A number within limits: `invalid<Param>` with `min`/`max`/`multiplier` when outside. */
export interface RangeRule {
  kind: 'range';
  type: 'integer' | 'float';
  min?: number;
  max?: number;
  /** The value must be a multiple of this. */
  multiple?: number;
}

/** An array holding between `min` and `max` elements: `invalid<Param>Count` when outside. */
export interface CountRule {
  kind: 'count';
  min: number;
  max: number;
  /** The parameter's type as errors name it: `string[]` (images) or `object[]` (adapters). */
  type: 'string[]' | 'object[]';
}

/**
 * One of a list of values. `refusal` says which code a value outside the list answers:
 * `unsupported` gives `unsupported<Param>` (Runware's code for a value the model's architecture
 * does not take, e.g. `unsupportedDuration`), `invalid` gives `invalid<Param>`.
 */
export interface ValuesRule {
  kind: 'values';
  type: 'string' | 'integer' | 'float';
  allowed: readonly (string | number)[];
  refusal: 'unsupported' | 'invalid';
  /**
   * When set, only these values off `allowed` answer the refusal; any other is left to the task
   * type's schema (an output format no Runware task of the kind writes is `invalidOutputFormat`).
   */
  among?: readonly string[];
}

/** A parameter the model does not take: `unsupportedParameter`. */
export interface UnsupportedRule {
  kind: 'unsupported';
}

export type ParamRule = RangeRule | CountRule | ValuesRule | UnsupportedRule;

/** Where a model's limits come from, said in the docs table. */
export type RuleSource =
  | 'runtrail' // a runtrail model: what its engine takes
  | 'runware-generic' // Runware's generic API reference ranges (no model page gives others)
  | 'runware-model-page' // the model's own page in Runware's docs
  | 'runware-error' // an error Runware answered (the seed example)
  | 'runware-provider-page'; // the provider's page in Runware's docs (e.g. KlingAI's)

export interface ModelRules {
  taskType: string;
  /** The AIR a task names. */
  air: string;
  /** What the model is (Runware's name for Runware AIRs). */
  name: string;
  source: RuleSource;
  /**
   * Rules by parameter name. A media parameter's rule applies wherever the task puts it:
   * `referenceImages` covers the root `referenceImages` and `inputs.referenceImages`.
   */
  params: Readonly<Record<string, ParamRule>>;
  /** Fixed width×height pairs: any other pair answers `unsupportedDimensions`. */
  sizes?: readonly (readonly [number, number])[];
}

/** A runtrail model's rules plus what its engine really does with each parameter. */
export interface LocalModelRules extends ModelRules {
  /** Parameters the engine uses; every other accepted parameter is checked, recorded and unused. */
  honours: readonly string[];
}

/**
 * One task type's part of the catalogue (src/validation/rules/<task-type>.ts): its runtrail
 * models, the Runware AIRs with rules of their own (an AIR may be a `*` pattern, as the model's
 * `standsIn` names it), and the rules of any other AIR of the task type.
 */
export interface TaskTypeRules {
  taskType: string;
  local: readonly LocalModelRules[];
  runware: readonly ModelRules[];
  generic: ModelRules;
  /** The AIR a task names when it has no `model` (a legacy field naming the model another way). */
  modelOf?: (task: Readonly<Record<string, unknown>>) => string | undefined;
}

// Builders, so the catalogue reads as a table.

export const int = (min?: number, max?: number, multiple?: number): RangeRule => ({
  kind: 'range',
  type: 'integer',
  min,
  max,
  multiple,
});
export const float = (min?: number, max?: number): RangeRule => ({ kind: 'range', type: 'float', min, max });
export const images = (min: number, max: number): CountRule => ({ kind: 'count', min, max, type: 'string[]' });
export const adapters = (min: number, max: number): CountRule => ({ kind: 'count', min, max, type: 'object[]' });
/** A list of objects that each carry an image (video `frameImages`). */
export const frames = (min: number, max: number): CountRule => ({ kind: 'count', min, max, type: 'object[]' });
export const UNSUPPORTED: UnsupportedRule = { kind: 'unsupported' };
/** Integers a model takes only at some values, any other answering `invalid<Param>` (upscaleFactor 2 or 4). */
export const intValues = (...allowed: number[]): ValuesRule => ({
  kind: 'values',
  type: 'integer',
  allowed,
  refusal: 'invalid',
});

/**
 * The rule for a video or audio `duration` (seconds) a model takes only at some values: Runware
 * answers `unsupportedDuration` with `allowedValues` (e.g. `[6]`). Use `float(min, max)` for a range.
 */
export const durations = (...allowed: number[]): ValuesRule => ({
  kind: 'values',
  type: 'float',
  allowed,
  refusal: 'unsupported',
});
/** Frames per second a model takes only at some values (`unsupportedFps`). */
export const fpsValues = (...allowed: number[]): ValuesRule => ({
  kind: 'values',
  type: 'integer',
  allowed,
  refusal: 'unsupported',
});
/**
 * The output formats Runware documents for each kind of output: images JPG, PNG, WEBP (and TIFF,
 * which its model pages name among the formats with transparency), video MP4, WEBM, MOV, audio
 * MP3, WAV, FLAC, OGG, vector graphics SVG.
 */
export const DOCUMENTED_FORMATS = {
  image: ['JPG', 'PNG', 'WEBP', 'TIFF'],
  video: ['MP4', 'WEBM', 'MOV'],
  audio: ['MP3', 'WAV', 'FLAC', 'OGG'],
  vector: ['SVG'],
} as const;

/**
 * The output formats a model writes (`outputFormat`, any case): another format Runware documents
 * for that kind of output answers `unsupportedOutputFormat` with `allowedValues`; a format no
 * Runware task of the kind writes is the schema's `invalidOutputFormat`.
 */
export const formats = (kind: keyof typeof DOCUMENTED_FORMATS, ...allowed: string[]): ValuesRule => ({
  kind: 'values',
  type: 'string',
  allowed,
  refusal: 'unsupported',
  among: DOCUMENTED_FORMATS[kind],
});

/** What every local raster model writes (images, masks, upscales, preprocessor outputs): JPG, PNG or WEBP. */
export const RASTER_FORMATS = formats('image', 'JPG', 'PNG', 'WEBP');
