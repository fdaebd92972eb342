// The engine for an operator's OpenAI-compatible server (Ollama, llama.cpp's server, vLLM,
// LocalAI, …): `chat-completion` for textInference, promptEnhance and captions by a vision model
// (the image travels as an `image_url` content part), `image-generation` for imageInference.
// Calls go through the shared remote-call policy (engines/remote) and are kept for audit beside
// the task; a stream is kept whole once it ends. docs/engines.md describes the settings.

import sharp from 'sharp';
import { ProtocolError, isProtocolError } from '../../protocol/errors.js';
import type { AuditStore } from '../../ledger/types.js';
import type { EngineRunOptions, OperationInput, OperationName, OperationOutput } from '../engine.js';
import { encodeAs } from '../builtin/encode.js';
import type { EncodedImage } from '../builtin/operation.js';
import { OperatorEngine } from '../remote/operator-engine.js';
import type { OperatorEngineConfig } from '../remote/operator-settings.js';
import {
  RETRYABLE_STATUS,
  abortedByCaller,
  httpFailure,
  type RemoteReply,
  type Verdict,
} from '../remote/remote-caller.js';
import {
  ChatStreamReader,
  chatRequestBody,
  readChatCompletion,
  type ChatCompletionInput,
  type ChatCompletionOutput,
} from './chat-completion.js';
import { imageRequestBody, type ImageGenerationInput } from './image-generation.js';

export const OPENAI_COMPATIBLE_ENGINE = 'openai-compatible';
const SUBJECT = "The operator's OpenAI-compatible engine";
/** The audit copy of a stream keeps at most this much of it. */
const MAX_RECORDED_STREAM_CHARS = 1 << 20;

interface StreamingReply extends RemoteReply {
  body?: ReadableStream<Uint8Array> | null;
}

export class OpenAiCompatibleEngine extends OperatorEngine {
  readonly name = OPENAI_COMPATIBLE_ENGINE;

  constructor(config: OperatorEngineConfig, audit: AuditStore) {
    super(config, audit, SUBJECT, 'openai-compatible', {
      textInference: 'chat-completion',
      promptEnhance: 'chat-completion',
      caption: 'chat-completion',
      imageInference: 'image-generation',
    });
  }

  protected probePath(): string {
    return '/models';
  }

  run<K extends OperationName>(
    operation: K,
    input: OperationInput<K>,
    options?: EngineRunOptions,
  ): Promise<OperationOutput<K>> {
    if (operation === 'chat-completion')
      return this.chat(input as ChatCompletionInput, options) as Promise<OperationOutput<K>>;
    if (operation === 'image-generation')
      return this.image(input as ImageGenerationInput, options) as Promise<OperationOutput<K>>;
    return Promise.reject(
      new ProtocolError('engineUnavailable', {
        engine: this.name,
        operation,
        reason: 'the engine has no such operation',
      }),
    );
  }

  private post(path: string, body: string, signal: AbortSignal): Promise<Response> {
    return fetch(this.config.url + path, {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json' }),
      body,
      signal,
    });
  }

  private async chat(input: ChatCompletionInput, options: EngineRunOptions | undefined): Promise<ChatCompletionOutput> {
    const body = chatRequestBody(input);
    if (!input.stream) {
      const reply = await this.caller.call(
        async (signal) => {
          const res = await this.post('/chat/completions', body, signal);
          return { status: res.status, text: await res.text() };
        },
        judge,
        this.recorder(options, 'chat'),
        options?.signal,
      );
      return readChatCompletion(reply.text, SUBJECT);
    }
    // A stream outlives the attempt's deadline: the fetch gets a controller of its own, aborted
    // when the attempt times out before the headers, when the caller goes away, or when no chunk
    // arrives for a whole timeout.
    const control = new AbortController();
    const callerGone = () => control.abort();
    options?.signal?.addEventListener('abort', callerGone, { once: true });
    try {
      const reply = await this.caller.call<StreamingReply>(
        async (signal) => {
          const relay = () => control.abort();
          signal.addEventListener('abort', relay, { once: true });
          try {
            const res = await this.post('/chat/completions', body, control.signal);
            if (res.ok) return { status: res.status, text: '', body: res.body };
            return { status: res.status, text: await res.text() };
          } finally {
            signal.removeEventListener('abort', relay);
          }
        },
        judge,
        this.recorder(options, 'chat'),
        options?.signal,
      );
      return await this.readStream(reply, control, options);
    } finally {
      options?.signal?.removeEventListener('abort', callerGone);
      control.abort();
    }
  }

  private async readStream(
    reply: StreamingReply,
    control: AbortController,
    options: EngineRunOptions | undefined,
  ): Promise<ChatCompletionOutput> {
    const reader = new ChatStreamReader(SUBJECT, options?.onText);
    const record = this.recorder(options, 'stream');
    const started = Date.now();
    let raw = '';
    let silent = false;
    let idle = setTimeout(() => undefined, 0);
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        silent = true;
        control.abort();
      }, this.caller.timeoutMs);
    };
    const keep = async (error: string | null) =>
      record({ httpStatus: reply.status, replyText: raw, error, latencyMs: Date.now() - started, createdAt: started });
    try {
      if (!reply.body) throw reader.interrupted('had no body');
      const decoder = new TextDecoder();
      arm();
      for await (const bytes of reply.body as unknown as AsyncIterable<Uint8Array>) {
        arm();
        const text = decoder.decode(bytes, { stream: true });
        if (raw.length < MAX_RECORDED_STREAM_CHARS) raw += text.slice(0, MAX_RECORDED_STREAM_CHARS - raw.length);
        reader.push(text);
        if (reader.done) break;
      }
      const out = reader.finish();
      await keep(null);
      return out;
    } catch (err) {
      if (options?.signal?.aborted) {
        await keep('cancelled by the caller');
        throw abortedByCaller();
      }
      const problem = isProtocolError(err)
        ? err
        : // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the read loop's timer
          reader.interrupted(silent ? `sent nothing for ${this.caller.timeoutMs / 1000} s` : 'broke off');
      await keep(problem.message);
      throw problem;
    } finally {
      clearTimeout(idle);
    }
  }

  private async image(input: ImageGenerationInput, options: EngineRunOptions | undefined): Promise<EncodedImage> {
    const reply = await this.caller.call(
      async (signal) => {
        const res = await this.post('/images/generations', imageRequestBody(input), signal);
        return { status: res.status, text: await res.text() };
      },
      judge,
      this.recorder(options, 'images'),
      options?.signal,
    );
    const first = firstImage(reply.text);
    let bytes: Buffer;
    if ('b64' in first) bytes = Buffer.from(first.b64, 'base64');
    else {
      const url = new URL(first.url, this.config.url + '/');
      const file = await this.caller.call(
        async (signal) => {
          const res = await fetch(url, { headers: this.headers(), signal });
          const data = Buffer.from(await res.arrayBuffer());
          return {
            status: res.status,
            text: res.ok
              ? `(${data.length} bytes of ${res.headers.get('content-type') ?? 'unknown type'})`
              : data.toString('utf8'),
            data,
          };
        },
        judge,
        this.recorder(options, 'image-file'),
        options?.signal,
      );
      bytes = file.data;
    }
    const meta = await sharp(bytes)
      .metadata()
      .catch(() => undefined);
    if (!meta?.width || !meta.height)
      throw new ProtocolError('unrecognizedResponse', {
        subject: SUBJECT,
        what: 'holds an image that could not be decoded',
      });
    const image = await encodeAs(sharp(bytes), input.format, input.quality).toBuffer();
    return { image, format: input.format, width: meta.width, height: meta.height };
  }
}

function firstImage(text: string): { b64: string } | { url: string } {
  let data: unknown;
  try {
    data = (JSON.parse(text) as { data?: unknown }).data;
  } catch {
    data = undefined;
  }
  const first = Array.isArray(data) ? (data[0] as Record<string, unknown> | undefined) : undefined;
  if (typeof first?.['b64_json'] === 'string') return { b64: first['b64_json'] };
  if (typeof first?.['url'] === 'string') return { url: first['url'] };
  throw new ProtocolError('unrecognizedResponse', {
    subject: SUBJECT,
    what: 'to the images request holds no b64_json or url',
  });
}

/** How a reply of the OpenAI-compatible server is read (errors are `{error: {message}}`). */
function judge(reply: RemoteReply): Verdict {
  const peerFailed = reply.status >= 500;
  if (reply.status >= 200 && reply.status < 300) return { accept: true };
  const said = errorMessage(reply.text);
  if (RETRYABLE_STATUS.has(reply.status)) return { retry: httpFailure(SUBJECT, reply, said), peerFailed };
  if (reply.status === 401 || reply.status === 403) {
    return {
      fail: new ProtocolError('providerError', {
        subject: SUBJECT,
        reason: `it refused this server's key (HTTP ${reply.status}); the operator must check RUNTRAIL_OPENAI_API_KEY`,
      }),
    };
  }
  return { fail: httpFailure(SUBJECT, reply, said), peerFailed };
}

function errorMessage(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as { error?: { message?: unknown } | string };
    if (typeof v.error === 'string') return v.error;
    if (typeof v.error?.message === 'string') return v.error.message;
  } catch {
    // not JSON
  }
  return text.trim() === '' ? undefined : text.slice(0, 200);
}
