// What modelSearch shows of the rule catalogue: for each (task type, AIR) a model answers — its
// own AIR and every AIR it stands in for — the rules a task naming that AIR meets, in the words
// of Runware's error objects (type, min, max, multiplier, allowedValues), so that a client can
// check a request before sending it. docs/protocol.md describes the field.

import type { ModelInfo } from '../engines/engine.js';
import type { LocalModelRules, ModelRules, ParamRule, RuleSource } from './model-rules.js';
import { wildcardMatcher } from '../protocol/model-pattern.js';
import { rulesFor } from './rule-catalogue.js';

/** One parameter's rule as modelSearch shows it. */
export type ParameterRuleView =
  | { type: 'integer' | 'float'; min?: number; max?: number; multiplier?: number }
  | { type: 'string[]' | 'object[]'; minItems: number; maxItems: number }
  | { type: 'string' | 'integer' | 'float'; allowedValues: readonly (string | number)[]; refusal: string }
  | { supported: false };

export interface ModelRulesView {
  taskType: string;
  /** The AIR a task names (an AIR pattern with `*` for a family of models). */
  air: string;
  /** The catalogue's name for the rules: the model's, or "any other AIR" for its task type's generic rules. */
  rulesOf: string;
  source: RuleSource;
  parameters: Record<string, ParameterRuleView>;
  /** The width×height pairs the model takes, when it takes a list (`unsupportedDimensions` off it). */
  sizes?: string[];
  /** For a runtrail model: the parameters its engine uses (the rest are checked, recorded, unused). */
  honours?: readonly string[];
}

function parameterView(name: string, rule: ParamRule): ParameterRuleView {
  switch (rule.kind) {
    case 'range':
      return {
        type: rule.type,
        ...(rule.min !== undefined ? { min: rule.min } : {}),
        ...(rule.max !== undefined ? { max: rule.max } : {}),
        ...(rule.multiple !== undefined ? { multiplier: rule.multiple } : {}),
      };
    case 'count':
      return { type: rule.type, minItems: rule.min, maxItems: rule.max };
    case 'values': {
      const leaf = name.slice(name.lastIndexOf('.') + 1);
      const refusal = `${rule.refusal}${leaf.charAt(0).toUpperCase()}${leaf.slice(1)}`;
      return { type: rule.type, allowedValues: rule.allowed, refusal };
    }
    case 'unsupported':
      return { supported: false };
  }
}

export function rulesView(taskType: string, air: string, rules: ModelRules): ModelRulesView {
  const honours = (rules as Partial<LocalModelRules>).honours;
  return {
    taskType,
    air,
    rulesOf: rules.air === '*' ? 'any other AIR' : rules.name,
    source: rules.source,
    parameters: Object.fromEntries(Object.entries(rules.params).map(([n, r]) => [n, parameterView(n, r)])),
    ...(rules.sizes ? { sizes: rules.sizes.map(([w, h]) => `${w}x${h}`) } : {}),
    ...(honours ? { honours } : {}),
  };
}

/** Views already built, per model object (an engine with a fixed catalogue hands out the same ones). */
const viewsOf = new WeakMap<ModelInfo, ModelRulesView[]>();

/**
 * The rules for each (task type, AIR) a model answers: its own AIR, then the AIRs it stands in
 * for. A model routed upstream has none here: the upstream judges what it runs.
 */
export function modelRulesViews(model: ModelInfo): ModelRulesView[] {
  let views = viewsOf.get(model);
  if (views === undefined) {
    views = buildViews(model);
    viewsOf.set(model, views);
  }
  return views;
}

/**
 * The views of `model` with the AIRs an operator maps onto it (RUNTRAIL_MODEL_MAP, given as
 * `mapped`): after its own AIR, each mapped AIR (a pattern as written) for each task type of the
 * model the rule covers, then the AIRs it stands in for; an AIR listed twice is shown once.
 */
export function modelRulesViewsWith(
  model: ModelInfo,
  mapped: readonly { taskType?: string; model: string }[],
): ModelRulesView[] {
  const own = modelRulesViews(model);
  if (mapped.length === 0 || model.architecture === 'upstream') return own;
  const extra: ModelRulesView[] = [];
  const seen = new Set(own.map((v) => `${v.taskType}\n${v.air.toLowerCase()}`));
  for (const m of mapped) {
    for (const taskType of model.taskTypes) {
      if (m.taskType !== undefined && !wildcardMatcher(m.taskType)(taskType)) continue;
      const key = `${taskType}\n${m.model.toLowerCase()}`;
      const rules = seen.has(key) ? undefined : rulesFor(taskType, m.model);
      seen.add(key);
      if (rules) extra.push(rulesView(taskType, m.model, rules));
    }
  }
  const firstOther = own.findIndex((v) => v.air.toLowerCase() !== model.air.toLowerCase());
  return firstOther < 0 ? [...own, ...extra] : [...own.slice(0, firstOther), ...extra, ...own.slice(firstOther)];
}

function buildViews(model: ModelInfo): ModelRulesView[] {
  if (model.architecture === 'upstream') return [];
  const airs = [model.air, ...(model.standsInFor ?? [])];
  return model.taskTypes.flatMap((taskType) =>
    airs.flatMap((air) => {
      const rules = rulesFor(taskType, air);
      return rules ? [rulesView(taskType, air, rules)] : [];
    }),
  );
}
