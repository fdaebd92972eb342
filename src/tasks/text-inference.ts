// textInference: chat completions on the operator's OpenAI-compatible engine (nothing built in
// runs a language model). Runware's parameters: `messages` (user/assistant turns, the last one
// the user's), `settings` (maxTokens, temperature, topP, topK, seed, stopSequences,
// systemPrompt; @runware/sdk-js sends these at the top level, which is accepted too),
// `includeUsage`, `numberResults`. Results carry `text`, `finishReason` and, when asked, `usage`.
// With `deliveryMethod: "stream"` the text reaches the client as it comes (transport/text-stream.ts)
// and the whole answer is recorded once the stream ends; docs/engines.md describes both.

import { Type, type Static } from '@sinclair/typebox';
import { ProtocolError } from '../protocol/errors.js';
import type { ChatCompletionOutput, ChatMessage } from '../engines/openai-compatible/chat-completion.js';
import { AIR_PATTERN, compileValidator, oneOf } from './validate.js';
import type { ItemResult, RecordedTaskModule, TaskCall, TaskRun } from './task-module.js';

const MAX_MESSAGE_CHARS = 200_000;

const Sampling = {
  maxTokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 131_072 })),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
  topP: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  topK: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  stopSequences: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 16 })),
  systemPrompt: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_MESSAGE_CHARS })),
  presencePenalty: Type.Optional(Type.Number({ minimum: -2, maximum: 2 })),
  frequencyPenalty: Type.Optional(Type.Number({ minimum: -2, maximum: 2 })),
};

const TextInferenceParams = Type.Object({
  taskType: Type.String(),
  taskUUID: Type.String(),
  model: Type.String({
    pattern: AIR_PATTERN,
    'x-format-hint':
      "A model is named by its AIR, 'source:id@version' (see modelSearch for the ones this server runs).",
  }),
  messages: Type.Array(
    Type.Object({
      role: oneOf(['user', 'assistant'] as const),
      content: Type.String({ minLength: 1, maxLength: MAX_MESSAGE_CHARS }),
    }),
    { minItems: 1, maxItems: 500 },
  ),
  settings: Type.Optional(Type.Object(Sampling)),
  ...Sampling,
  includeUsage: Type.Optional(Type.Boolean()),
  includeCost: Type.Optional(Type.Boolean()),
  numberResults: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
  outputFormat: Type.Optional(oneOf(['TEXT'] as const, true)),
});

type Params = Static<typeof TextInferenceParams>;
const validateParams = compileValidator(TextInferenceParams);

const TASK_TYPE = 'textInference';

export const textInference: RecordedTaskModule<Params> = {
  kind: 'recorded',
  taskType: TASK_TYPE,
  deliveries: ['sync', 'async', 'stream'],
  validate(value) {
    const p = validateParams(value);
    const last = p.messages[p.messages.length - 1]!;
    if (last.role !== 'user') {
      throw new ProtocolError(
        'invalidMessages',
        { parameter: 'messages', reason: 'The last message must be the user\'s (role "user").' },
        {
          parameter: 'messages',
          type: 'array',
        },
      );
    }
    return p;
  },
  modelOf: (p) => p.model,
  prices: [{ model: '*', perItem: 0.0001 }],
  run,
};

async function run(call: TaskCall<Params>): Promise<TaskRun> {
  const { params: p, services, org } = call;
  const { engine, model } = services.engines.require(TASK_TYPE, p.model);
  const s = { ...pickSampling(p), ...pickSampling(p.settings ?? {}) };
  if (call.stream && (p.numberResults ?? 1) > 1) {
    throw new ProtocolError(
      'invalidNumberResults',
      {
        parameter: 'numberResults',
        reason: 'A streamed textInference gives one result: send numberResults 1 (or leave it out).',
      },
      {
        parameter: 'numberResults',
        type: 'integer',
        max: 1,
      },
    );
  }
  const messages: ChatMessage[] = [
    ...(s.systemPrompt ? [{ role: 'system' as const, content: s.systemPrompt }] : []),
    ...p.messages,
  ];
  const perItem = services.prices.perItem(TASK_TYPE, p.model);
  const stream = call.stream;

  const one = async (index: number): Promise<ItemResult> => {
    const out: ChatCompletionOutput = await engine.run(
      'chat-completion',
      {
        model: model.engineModel ?? model.air,
        messages,
        ...(s.maxTokens !== undefined ? { maxTokens: s.maxTokens } : {}),
        ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
        ...(s.topP !== undefined ? { topP: s.topP } : {}),
        ...(s.topK !== undefined ? { topK: s.topK } : {}),
        // Each result of several gets its own seed, so they differ.
        ...(s.seed !== undefined ? { seed: s.seed + index } : {}),
        ...(s.stopSequences !== undefined ? { stop: s.stopSequences } : {}),
        ...(s.presencePenalty !== undefined ? { presencePenalty: s.presencePenalty } : {}),
        ...(s.frequencyPenalty !== undefined ? { frequencyPenalty: s.frequencyPenalty } : {}),
        ...(stream ? { stream: true } : {}),
      },
      {
        task: { orgId: org.id, taskUUID: call.taskUUID },
        ...(stream ? { signal: stream.signal, onText: (d) => stream.delta(index, d) } : {}),
      },
    );
    const item = {
      taskType: call.taskType,
      taskUUID: call.taskUUID,
      text: out.text,
      ...(out.reasoningContent !== undefined ? { reasoningContent: out.reasoningContent } : {}),
      finishReason: out.finishReason,
      ...(p.includeUsage && out.usage ? { usage: out.usage } : {}),
      ...(p.includeCost ? { cost: perItem } : {}),
    };
    return { item, media: [], cost: perItem };
  };
  return { engine: engine.name, results: Array.from({ length: p.numberResults ?? 1 }, (_, i) => one(i)) };
}

type Sampled = Partial<Pick<Params, keyof typeof Sampling>>;

function pickSampling(o: Sampled): Sampled {
  const out: Sampled = {};
  for (const k of Object.keys(Sampling) as (keyof typeof Sampling)[])
    if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
  return out;
}
