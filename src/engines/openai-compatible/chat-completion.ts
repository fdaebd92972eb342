// The `chat-completion` operation on an OpenAI-compatible server: POST /chat/completions, whole
// or streamed (Server-Sent Events of `chat.completion.chunk` objects ending with `[DONE]`), read
// into Runware's terms (text, finishReason, usage). The request and reply shapes are OpenAI's
// documented Chat Completions API, which Ollama, llama.cpp's server, vLLM and LocalAI serve.

import { ProtocolError } from '../../protocol/errors.js';
import type { TextDelta } from '../engine.js';

export type ChatContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ChatContentPart[];
}

export interface ChatCompletionInput {
  /** The operator engine's name for the model. */
  model: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  stop?: string[];
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Streams the reply (deltas reach EngineRunOptions.onText). */
  stream?: boolean;
}

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'unknown';

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  thinkingTokens?: number;
}

export interface ChatCompletionOutput {
  text: string;
  reasoningContent?: string;
  finishReason: FinishReason;
  usage?: TokenUsage;
}

declare module '../builtin/ops/op-table.js' {
  interface OpTable {
    'chat-completion': { input: ChatCompletionInput; output: ChatCompletionOutput };
  }
}

/** The JSON body for POST /chat/completions. */
export function chatRequestBody(input: ChatCompletionInput): string {
  const body: Record<string, unknown> = { model: input.model, messages: input.messages };
  if (input.maxTokens !== undefined) body['max_tokens'] = input.maxTokens;
  if (input.temperature !== undefined) body['temperature'] = input.temperature;
  if (input.topP !== undefined) body['top_p'] = input.topP;
  // Not in OpenAI's API, but Ollama, llama.cpp, vLLM and LocalAI take it; others ignore it.
  if (input.topK !== undefined) body['top_k'] = input.topK;
  if (input.seed !== undefined) body['seed'] = input.seed;
  if (input.stop !== undefined && input.stop.length > 0) body['stop'] = input.stop;
  if (input.presencePenalty !== undefined) body['presence_penalty'] = input.presencePenalty;
  if (input.frequencyPenalty !== undefined) body['frequency_penalty'] = input.frequencyPenalty;
  if (input.stream) {
    body['stream'] = true;
    body['stream_options'] = { include_usage: true };
  }
  return JSON.stringify(body);
}

/** Reads a whole (non-streamed) chat completion. */
export function readChatCompletion(text: string, subject: string): ChatCompletionOutput {
  const reply = parseObject(text, subject);
  const choice = firstChoice(reply, subject);
  const message = objectField(choice, 'message');
  const content = message?.['content'];
  if (typeof content !== 'string' && content !== null && content !== undefined)
    throw unreadable(subject, 'has a message content that is not text');
  const reasoning = reasoningOf(message);
  const usage = usageOf(reply['usage']);
  return {
    text: typeof content === 'string' ? content : '',
    ...(reasoning ? { reasoningContent: reasoning } : {}),
    finishReason: finishReasonOf(choice['finish_reason']),
    ...(usage ? { usage } : {}),
  };
}

/**
 * Reads a streamed chat completion chunk by chunk as bytes arrive; `finish()` gives the whole
 * answer once `[DONE]` (or the end of the body) came.
 */
export class ChatStreamReader {
  private buffer = '';
  private text = '';
  private reasoning = '';
  private finishReason: FinishReason | undefined;
  private usage: TokenUsage | undefined;
  done = false;

  constructor(
    private readonly subject: string,
    private readonly onText: ((delta: TextDelta) => void) | undefined,
  ) {}

  /** How much text has arrived so far (for the message of a stream cut off midway). */
  get receivedChars(): number {
    return this.text.length;
  }

  get partialText(): string {
    return this.text;
  }

  push(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (!line.startsWith('data:')) return; // comments, event names, blank separators
    const payload = line.slice(5).trim();
    if (payload === '[DONE]') {
      this.done = true;
      return;
    }
    const chunk = parseObject(payload, this.subject);
    if (typeof chunk['error'] === 'object' && chunk['error'] !== null) {
      const message = (chunk['error'] as Record<string, unknown>)['message'];
      throw new ProtocolError('providerError', {
        subject: this.subject,
        reason: 'it failed while streaming',
        said: typeof message === 'string' ? `It said: ${message.slice(0, 300)}` : undefined,
      });
    }
    const usage = usageOf(chunk['usage']);
    if (usage) this.usage = usage;
    const choices = chunk['choices'];
    if (!Array.isArray(choices) || choices.length === 0) return; // the usage-only last chunk
    const choice = choices[0] as Record<string, unknown>;
    const delta = objectField(choice, 'delta');
    const content = delta?.['content'];
    const reasoning = reasoningOf(delta);
    const out: TextDelta = {};
    if (typeof content === 'string' && content !== '') {
      this.text += content;
      out.text = content;
    }
    if (reasoning) {
      this.reasoning += reasoning;
      out.reasoningContent = reasoning;
    }
    if (out.text !== undefined || out.reasoningContent !== undefined) this.onText?.(out);
    if (choice['finish_reason'] !== null && choice['finish_reason'] !== undefined)
      this.finishReason = finishReasonOf(choice['finish_reason']);
  }

  /** The whole answer; throws streamInterrupted when the stream ended before its end. */
  finish(): ChatCompletionOutput {
    if (this.buffer.trim() !== '') this.line(this.buffer.trim());
    this.buffer = '';
    if (!this.done && this.finishReason === undefined) throw this.interrupted('ended before its last chunk');
    return {
      text: this.text,
      ...(this.reasoning ? { reasoningContent: this.reasoning } : {}),
      finishReason: this.finishReason ?? 'unknown',
      ...(this.usage ? { usage: this.usage } : {}),
    };
  }

  interrupted(how: string): ProtocolError {
    return new ProtocolError('streamInterrupted', { subject: this.subject, how, chars: this.text.length });
  }
}

function parseObject(text: string, subject: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw unreadable(subject, 'is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw unreadable(subject, 'is not a JSON object');
  return v as Record<string, unknown>;
}

function firstChoice(reply: Record<string, unknown>, subject: string): Record<string, unknown> {
  const choices = reply['choices'];
  if (!Array.isArray(choices) || choices.length === 0 || typeof choices[0] !== 'object' || choices[0] === null)
    throw unreadable(subject, 'holds no choices');
  return choices[0] as Record<string, unknown>;
}

function objectField(o: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
  const v = o[name];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Reasoning text: `reasoning_content` (llama.cpp, vLLM, DeepSeek) or `reasoning` (Ollama). */
function reasoningOf(o: Record<string, unknown> | undefined): string | undefined {
  const v = o?.['reasoning_content'] ?? o?.['reasoning'];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function finishReasonOf(v: unknown): FinishReason {
  return v === 'stop' || v === 'length' || v === 'content_filter' ? v : 'unknown';
}

function usageOf(v: unknown): TokenUsage | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const u = v as Record<string, unknown>;
  const n = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
  const prompt = n(u['prompt_tokens']);
  const completion = n(u['completion_tokens']);
  if (prompt === undefined || completion === undefined) return undefined;
  const details = u['completion_tokens_details'] as Record<string, unknown> | undefined;
  const thinking = n(details?.['reasoning_tokens']);
  return {
    promptTokens: prompt,
    completionTokens: completion,
    totalTokens: n(u['total_tokens']) ?? prompt + completion,
    ...(thinking !== undefined ? { thinkingTokens: thinking } : {}),
  };
}

function unreadable(subject: string, what: string): ProtocolError {
  return new ProtocolError('unrecognizedResponse', { subject, what });
}
