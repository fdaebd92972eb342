// modelSearch: searches the models the configured engines serve (docs/protocol.md, task types) with the
// documented filters and paging. Each result carries the documented fields plus what runtrail
// knows besides: the task types the model serves, its price per produced item, and the rules a
// task naming it (or an AIR it stands in for, or one RUNTRAIL_MODEL_MAP sends to it) meets
// (`validationRules`, src/validation).

import { Type, type Static } from '@sinclair/typebox';
import type { ModelInfo } from '../engines/engine.js';
import { compileValidator, oneOf } from './validate.js';
import { modelRulesViewsWith, type ModelRulesView } from '../validation/rules-view.js';
import type { RecordedTaskModule, TaskCall, TaskRun, TaskServices } from './task-module.js';

const CATEGORIES = ['checkpoint', 'lora', 'lycoris', 'controlnet', 'vae', 'embeddings'] as const;
const VISIBILITIES = ['public', 'private', 'all', 'favorite', 'owned'] as const;

const ModelSearchParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  search: Type.Optional(Type.String({ maxLength: 200 })),
  tags: Type.Optional(Type.Array(Type.String({ maxLength: 400 }), { maxItems: 100 })),
  category: Type.Optional(oneOf(CATEGORIES)),
  type: Type.Optional(Type.String({ maxLength: 100 })),
  architecture: Type.Optional(Type.String({ maxLength: 100 })),
  conditioning: Type.Optional(Type.String({ maxLength: 100 })),
  visibility: Type.Optional(oneOf(VISIBILITIES)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  offset: Type.Optional(Type.Integer({ minimum: 0 })),
});

type Params = Static<typeof ModelSearchParams>;

export const modelSearch: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: 'modelSearch',
  validate: compileValidator(ModelSearchParams),
  modelOf: () => null,
  instant: true,
  run,
};

interface ModelResult {
  air: string;
  name: string;
  version: string;
  category: string;
  architecture: string;
  tags: string[];
  private: boolean;
  defaultWidth: number;
  defaultHeight: number;
  taskTypes: string[];
  /** USD per produced item for the model's first task type. */
  price: number;
  /** What the model really is, in a sentence (runtrail's own models say whether a network runs). */
  shortDescription?: string;
  /** The parameters and limits of the model's AIR and of each AIR it stands in for (docs/protocol.md). */
  validationRules: ModelRulesView[];
}

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services } = call;
  const mapped = (m: ModelInfo) => services.engines.mappedOnto(m.air).map((r) => r.model);
  const found = searchModels(services.engines.models(), p, mapped);
  const offset = p.offset ?? 0;
  const page = found.slice(offset, offset + (p.limit ?? 20)).map((m) => resultOf(m, services));
  return {
    engine: null,
    results: [
      {
        item: { taskType: call.taskType, taskUUID: call.taskUUID, totalResults: found.length, results: page },
        media: [],
        cost: 0,
      },
    ],
  };
}

/** Models matching every given filter; with `search`, best matches first (name phrase, then AIR, then the rest). */
export function searchModels(
  models: readonly ModelInfo[],
  p: Omit<Params, 'taskType' | 'taskUUID'>,
  /** The AIRs RUNTRAIL_MODEL_MAP sends to a model (they find it, as the AIRs it stands in for do). */
  mappedAirs: (model: ModelInfo) => readonly string[] = () => [],
): ModelInfo[] {
  // Every model runtrail serves is public: only `public`/`all` (the default) find any.
  if (p.visibility !== undefined && p.visibility !== 'public' && p.visibility !== 'all') return [];
  const wanted = (a: string | undefined, b: string) => a === undefined || a.toLowerCase() === b.toLowerCase();
  const tags = (p.tags ?? []).map((t) => t.toLowerCase());
  const query = p.search?.trim().toLowerCase() ?? '';
  const scored: { model: ModelInfo; score: number }[] = [];
  for (const model of models) {
    if (!wanted(p.category, model.category) || !wanted(p.architecture, model.architecture)) continue;
    // Engines report no tags, types or conditionings yet, so those filters match nothing.
    if (tags.length > 0 || p.type !== undefined || p.conditioning !== undefined) continue;
    const score = query === '' ? 1 : relevance(model, query, mappedAirs(model));
    if (score > 0) scored.push({ model, score });
  }
  scored.sort((a, b) => b.score - a.score || a.model.air.localeCompare(b.model.air));
  return scored.map((s) => s.model);
}

function relevance(model: ModelInfo, query: string, mapped: readonly string[]): number {
  const name = model.name.toLowerCase();
  let score = 0;
  if (name.includes(query)) score += 10;
  if (model.air.toLowerCase().includes(query)) score += 5;
  for (const word of query.split(/\s+/)) if (word !== '' && name.includes(word)) score += 1;
  if (model.version.toLowerCase() === query) score += 1;
  // Runware's AIRs find the local model that runs them (`runware:101@1` finds the renderer).
  if ([...mapped, ...(model.standsInFor ?? [])].some((air) => air.toLowerCase().includes(query))) score += 3;
  return score;
}

function resultOf(model: ModelInfo, services: TaskServices): ModelResult {
  return {
    air: model.air,
    name: model.name,
    version: model.version,
    category: model.category,
    architecture: model.architecture,
    tags: [],
    private: false,
    defaultWidth: model.defaultWidth,
    defaultHeight: model.defaultHeight,
    taskTypes: model.taskTypes,
    price: services.prices.perItem(model.taskTypes[0] ?? '', model.air),
    ...(model.shortDescription !== undefined ? { shortDescription: model.shortDescription } : {}),
    validationRules: modelRulesViewsWith(model, services.engines.mappedOnto(model.air)),
  };
}
