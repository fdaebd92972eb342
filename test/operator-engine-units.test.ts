// The pure parts of the operator engines: ComfyUI workflow placeholders, the reading of an
// OpenAI chat stream (split anywhere, cut off, carrying an error), and the model settings.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowError, fillWorkflow, placeholdersOf } from '../src/engines/comfyui/workflow-template.js';
import {
  ChatStreamReader,
  chatRequestBody,
  readChatCompletion,
} from '../src/engines/openai-compatible/chat-completion.js';
import { OperatorConfigError, operatorEngineConfig } from '../src/engines/remote/operator-settings.js';
import { ProtocolError } from '../src/protocol/errors.js';

const WORKFLOW = JSON.stringify({
  '3': {
    class_type: 'KSampler',
    inputs: { seed: '{{seed}}', steps: '{{steps|20}}', cfg: '{{ CFGScale | 7.5 }}', scheduler: '{{scheduler|normal}}' },
  },
  '6': {
    class_type: 'CLIPTextEncode',
    inputs: { text: 'masterpiece, {{positivePrompt}}', list: ['{{negativePrompt}}'] },
  },
});

test('placeholders: whole strings take the typed value, defaults apply, embedded ones are text, a missing one is refused', () => {
  const g = fillWorkflow(WORKFLOW, { seed: 42, positivePrompt: 'a fox', steps: undefined }) as Record<
    string,
    { inputs: Record<string, unknown> }
  >;
  assert.deepEqual(g['3']!.inputs, { seed: 42, steps: 20, cfg: 7.5, scheduler: 'normal' });
  assert.equal(g['6']!.inputs['text'], 'masterpiece, a fox');
  assert.deepEqual(g['6']!.inputs['list'], ['']);
  assert.deepEqual(placeholdersOf(WORKFLOW).sort(), [
    'CFGScale',
    'negativePrompt',
    'positivePrompt',
    'scheduler',
    'seed',
    'steps',
  ]);
  assert.throws(
    () => fillWorkflow(WORKFLOW, { positivePrompt: 'x' }),
    (err: unknown) => err instanceof WorkflowError && /\{\{seed\}\}/.test(err.message),
  );
  assert.throws(() => fillWorkflow('[1,2]', {}), WorkflowError);
});

function sse(chunks: unknown[], done = true): string {
  return chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '');
}
const piece = (content: string | undefined, finish: string | null = null, extra: object = {}) => ({
  choices: [{ index: 0, delta: content === undefined ? {} : { content, ...extra }, finish_reason: finish }],
});

test('a chat stream split at any byte gives the same deltas and answer; usage and reasoning are read', () => {
  const text = sse([
    piece('', null, { role: 'assistant' }),
    { choices: [{ index: 0, delta: { reasoning_content: 'hmm' }, finish_reason: null }] },
    piece('Hello'),
    piece(' world'),
    piece(undefined, 'length'),
    {
      choices: [],
      usage: {
        prompt_tokens: 3,
        completion_tokens: 2,
        total_tokens: 5,
        completion_tokens_details: { reasoning_tokens: 1 },
      },
    },
  ]);
  for (const cut of [1, 7, 33, text.length - 3]) {
    const deltas: unknown[] = [];
    const reader = new ChatStreamReader('E', (d) => deltas.push(d));
    reader.push(text.slice(0, cut));
    reader.push(text.slice(cut));
    assert.deepEqual(reader.finish(), {
      text: 'Hello world',
      reasoningContent: 'hmm',
      finishReason: 'length',
      usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5, thinkingTokens: 1 },
    });
    assert.deepEqual(deltas, [{ reasoningContent: 'hmm' }, { text: 'Hello' }, { text: ' world' }]);
  }
});

test('a chat stream without its end is streamInterrupted; an error chunk is providerError', () => {
  const cut = new ChatStreamReader('E', undefined);
  cut.push(sse([piece('Hel')], false));
  assert.throws(
    () => cut.finish(),
    (err: unknown) =>
      err instanceof ProtocolError && err.code === 'streamInterrupted' && /after 3 characters/.test(err.message),
  );
  const failing = new ChatStreamReader('E', undefined);
  assert.throws(
    () => failing.push(sse([{ error: { message: 'out of memory' } }])),
    (err: unknown) => err instanceof ProtocolError && err.code === 'providerError' && /out of memory/.test(err.message),
  );
});

test('chat requests carry OpenAI names; whole replies are read, unreadable ones refused', () => {
  const body = JSON.parse(
    chatRequestBody({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      maxTokens: 9,
      topP: 0.5,
      stop: ['x'],
      stream: true,
    }),
  ) as Record<string, unknown>;
  assert.deepEqual(body, {
    model: 'm',
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 9,
    top_p: 0.5,
    stop: ['x'],
    stream: true,
    stream_options: { include_usage: true },
  });
  assert.deepEqual(
    readChatCompletion(JSON.stringify({ choices: [{ message: { content: 'ok' }, finish_reason: 'tool_calls' }] }), 'E'),
    { text: 'ok', finishReason: 'unknown' },
  );
  assert.throws(
    () => readChatCompletion('{"choices":[]}', 'E'),
    (err: unknown) => err instanceof ProtocolError && err.code === 'unrecognizedResponse',
  );
});

test('operator model settings: AIRs after what runs, known task types, a readable workflow', () => {
  const pick = (env: Record<string, string>) => (name: string) => env[name];
  const ok = operatorEngineConfig(
    pick({
      RUNTRAIL_OPENAI_URL: 'http://h:1/v1/',
      RUNTRAIL_OPENAI_MODELS: '[{"air":"ollama:a@1","taskTypes":["textInference"],"standsInFor":["*"]}]',
    }),
    'OPENAI',
    ['textInference'],
  );
  assert.equal(ok?.url, 'http://h:1/v1');
  assert.deepEqual(ok?.models[0]?.standsInFor, [{ taskType: 'textInference', model: '*' }]);
  assert.equal(ok?.apiKey, undefined);
  const bad = (models: string, prefix: 'OPENAI' | 'COMFYUI' = 'OPENAI') =>
    assert.throws(
      () =>
        operatorEngineConfig(
          pick({ [`RUNTRAIL_${prefix}_URL`]: 'http://h', [`RUNTRAIL_${prefix}_MODELS`]: models }),
          prefix,
          ['textInference', 'imageInference'],
        ),
      OperatorConfigError,
    );
  bad('[{"air":"runware:1@1","taskTypes":["textInference"]}]');
  bad('[{"air":"ollama:a@1","taskTypes":["videoInference"]}]');
  bad('[{"air":"not an air","taskTypes":["textInference"]}]');
  bad('[{"air":"comfyui:a@1","taskTypes":["imageInference"],"workflow":"/nonexistent.json"}]', 'COMFYUI');
  assert.throws(() => operatorEngineConfig(pick({ RUNTRAIL_OPENAI_URL: 'http://h' }), 'OPENAI', []), /set together/);
  assert.equal(operatorEngineConfig(pick({}), 'OPENAI', []), undefined);
});

test('routing: operator engines come before the built-in one; with an upstream, their AIRs stay here and the rest goes upstream', async () => {
  const { buildEngineRouter } = await import('../src/engines/routing.js');
  const audit = {
    recordUpstreamExchange: () => Promise.resolve(),
    listUpstreamExchanges: () => Promise.resolve([]),
    spend: () => Promise.resolve([]),
  };
  const openai = operatorEngineConfig(
    (name: string) =>
      ({
        RUNTRAIL_OPENAI_URL: 'http://127.0.0.1:9/v1',
        RUNTRAIL_OPENAI_MODELS:
          '[{"air":"ollama:llama@3","taskTypes":["textInference","imageInference"],"standsInFor":["*"]}]',
      })[name],
    'OPENAI',
    ['textInference', 'imageInference'],
  );
  const base = {
    routes: [],
    modelMap: [],
    engine: { threads: 1, maxQueue: 10, niceness: 0 },
    comfyui: undefined,
    openaiCompatible: openai,
  };
  const alone = buildEngineRouter({ ...base, upstream: undefined }, audit);
  try {
    assert.equal(
      alone.resolve('imageInference', 'runware:101@1')?.engine.name,
      'openai-compatible',
      'its `*` stand-in wins over the procedural one',
    );
    assert.equal(alone.resolve('upscale', null)?.engine.name, 'builtin');
  } finally {
    await alone.close();
  }
  const upstream = {
    url: 'http://127.0.0.1:9/v1',
    apiKey: 'k',
    timeoutMs: 1,
    retries: 0,
    retryBackoffMs: 0,
    breakerFailures: 1,
    breakerCooldownMs: 1,
    pollMs: 1,
    asyncTimeoutMs: 1,
    ws: { pingMs: 1000, deadPeerMs: 1000, maxInFlight: 1, maxBufferedBytes: 1024 },
    accountIdleMs: 1000,
    fallbacks: [],
  };
  const both = buildEngineRouter({ ...base, upstream }, audit);
  try {
    assert.equal(both.forwarderFor('textInference', 'ollama:llama@3'), undefined);
    assert.equal(both.resolve('textInference', 'ollama:llama@3')?.engine.name, 'openai-compatible');
    assert.equal(both.forwarderFor('textInference', 'openai:gpt@4')?.name, 'upstream');
  } finally {
    await both.close();
  }
});
