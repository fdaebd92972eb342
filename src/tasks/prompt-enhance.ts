// promptEnhance: a language model on the operator's OpenAI-compatible engine rewrites `prompt`
// into a richer image prompt, `promptVersions` times (one result item each, made different by
// their seeds), each within `promptMaxLength` tokens. Runware's model for it
// (runware:llama-3-1-8b@prompt-enhancer) runs here only when the operator lists it among a
// model's stand-ins (RUNTRAIL_OPENAI_MODELS, docs/engines.md).

import { Type, type Static } from '@sinclair/typebox';
import { AIR_PATTERN, compileValidator } from './validate.js';
import type { ItemResult, RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';

const PromptEnhanceParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  prompt: Type.String({ minLength: 1, maxLength: 300 }),
  promptMaxLength: Type.Optional(Type.Integer({ minimum: 12, maximum: 400 })),
  promptVersions: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
  model: Type.Optional(Type.String({ pattern: AIR_PATTERN })),
  includeCost: Type.Optional(Type.Boolean()),
});

type Params = Static<typeof PromptEnhanceParams>;
const validateParams = compileValidator(PromptEnhanceParams);

const TASK_TYPE = 'promptEnhance';

/** What the language model is asked to do; the caller's prompt follows as the user's message. */
const INSTRUCTION =
  'You improve prompts for an image generation model. Answer with one enhanced prompt only: keep the subject ' +
  'of the given prompt, add concrete detail about style, lighting, composition and mood, and write no preamble, quotes or notes.';

export const promptEnhance: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: TASK_TYPE,
  validate: validateParams,
  modelOf: (p) => p.model ?? null,
  prices: [{ model: '*', perItem: 0.00005 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const { engine, model } = services.engines.require(TASK_TYPE, p.model ?? null);
  const perItem = services.prices.perItem(TASK_TYPE, p.model ?? null);
  const maxTokens = p.promptMaxLength ?? 380;

  const version = async (index: number): Promise<ItemResult> => {
    const out = await engine.run(
      'chat-completion',
      {
        model: model.engineModel ?? model.air,
        messages: [
          { role: 'system', content: INSTRUCTION },
          { role: 'user', content: p.prompt },
        ],
        maxTokens,
        temperature: 0.8,
        seed: index + 1,
      },
      { task: { orgId: org.id, taskUUID: call.taskUUID } },
    );
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      text: cleaned(out.text),
      ...(p.includeCost ? { cost: perItem } : {}),
    };
    return { item, media: [], cost: perItem };
  };
  return { engine: engine.name, results: Array.from({ length: p.promptVersions ?? 1 }, (_, i) => version(i)) };
}

/** Models like to wrap their answer in quotes or label it; the prompt is what is inside. */
function cleaned(text: string): string {
  return text
    .trim()
    .replace(/^(enhanced prompt|prompt)\s*:\s*/i, '')
    .replace(/^["'“](.*)["'”]$/s, '$1')
    .trim();
}
