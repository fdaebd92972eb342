// The one catalogue of per-model rules: for every model this server announces (its own runtrail
// models, and the Runware AIRs they stand in for), the parameters it takes and their limits, one
// file per task type under rules/. Validation (check-rules.ts) reads it, modelSearch shows it
// (rules-view.ts), and the tables in docs/protocol.md are generated from it (`npm run
// docs:validation`; a test compares both). A task naming an AIR without an entry of its own gets
// its task type's generic rules (Runware's generic ranges; an operator engine's models too).
// Tasks routed to an upstream are judged by the upstream, not by these rules.

import { wildcardMatcher } from '../protocol/model-pattern.js';
import type { LocalModelRules, ModelRules, TaskTypeRules } from './model-rules.js';
import { audioInferenceRules } from './rules/audio-inference.js';
import { captionRules } from './rules/caption.js';
import { controlNetPreprocessRules } from './rules/controlnet-preprocess.js';
import { imageInferenceRules } from './rules/image-inference.js';
import { imageMaskingRules, removeBackgroundRules, vectorizeRules } from './rules/image-tools.js';
import { upscaleRules } from './rules/upscale.js';
import { videoInferenceRules } from './rules/video-inference.js';

/** Every task type with rules, in the order the docs list them. */
export const TASK_TYPE_RULES: readonly TaskTypeRules[] = [
  imageInferenceRules,
  videoInferenceRules,
  audioInferenceRules,
  upscaleRules,
  removeBackgroundRules,
  vectorizeRules,
  imageMaskingRules,
  controlNetPreprocessRules,
  captionRules,
];

const BY_TASK_TYPE = new Map(TASK_TYPE_RULES.map((t) => [t.taskType, t]));

/** Each task type's entries with a test for the AIRs they cover: exact AIRs first, then `*` patterns. */
const MATCHERS = new Map(
  TASK_TYPE_RULES.map((t) => {
    const entries = [...t.local, ...t.runware];
    const exact = entries.filter((r) => !r.air.includes('*'));
    const patterns = entries.filter((r) => r.air.includes('*'));
    return [
      t.taskType,
      [
        ...exact.map((r) => ({ rules: r, test: (air: string) => air.toLowerCase() === r.air.toLowerCase() })),
        ...patterns.map((r) => ({ rules: r, test: wildcardMatcher(r.air) })),
      ],
    ] as const;
  }),
);

/**
 * The rules a task naming `model` meets: the entry for its AIR (an exact AIR before a pattern;
 * a pattern as written matches itself), else its task type's generic rules; undefined when the
 * task type has no rules, or for a runtrail AIR the task type has no model of.
 */
export function rulesFor(taskType: string, model: string | null): ModelRules | undefined {
  if (model !== null) {
    const own = MATCHERS.get(taskType)?.find((m) => m.test(model) || m.rules.air === model);
    if (own) return own.rules;
    // Every runtrail model has an entry (a test checks it): a runtrail AIR without one names no
    // model of this task type, and the task answers unsupportedModel rather than Runware's limits.
    if (model.toLowerCase().startsWith('runtrail:')) return undefined;
  }
  return genericRules(taskType);
}

/** The rules for an AIR of `taskType` the catalogue does not name (undefined: the schema alone). */
export function genericRules(taskType: string): ModelRules | undefined {
  return BY_TASK_TYPE.get(taskType)?.generic;
}

/** The AIR a task names for its rules: `model`, or what the task type's legacy field stands for. */
export function ruleModelOf(taskType: string, task: Readonly<Record<string, unknown>>): unknown {
  return task['model'] ?? BY_TASK_TYPE.get(taskType)?.modelOf?.(task);
}

/** Every entry of the catalogue, each task type's generic rules after its own (for the docs and their test). */
export function allRules(): ModelRules[] {
  return TASK_TYPE_RULES.flatMap((t) => [...t.local, ...t.runware, t.generic]);
}

/** Every runtrail model's entry, with what its engine honours. */
export function localRules(): LocalModelRules[] {
  return TASK_TYPE_RULES.flatMap((t) => t.local);
}

/** The AIRs the catalogue gives Runware's rules for one task type (the local models announce them). */
export function runwareAirsFor(taskType: string): string[] {
  return (BY_TASK_TYPE.get(taskType)?.runware ?? []).map((r) => r.air);
}
