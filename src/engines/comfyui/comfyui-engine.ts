// The engine for an operator's ComfyUI: `comfy-workflow` fills the operator's workflow file
// with a task's parameters, uploads a seed image (POST /upload/image), queues the graph
// (POST /prompt), follows it on ComfyUI's WebSocket (/ws?clientId=…, `progress` events become
// getResponse's progress) while polling /history/{prompt_id} for the outcome, and fetches the
// first output image (GET /view). These are ComfyUI's own server routes; docs/engines.md shows
// a setup. Every call goes through the shared remote-call policy and is kept for audit.

import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import WebSocket from 'ws';
import { ProtocolError } from '../../protocol/errors.js';
import type { AuditStore } from '../../ledger/types.js';
import type { EngineRunOptions, OperationInput, OperationName, OperationOutput } from '../engine.js';
import { encodeAs } from '../builtin/encode.js';
import type { EncodedFormat, EncodedImage } from '../builtin/operation.js';
import { OperatorEngine } from '../remote/operator-engine.js';
import type { OperatorEngineConfig } from '../remote/operator-settings.js';
import {
  RETRYABLE_STATUS,
  httpFailure,
  sleep,
  type AttemptRecorder,
  type RemoteReply,
  type Verdict,
} from '../remote/remote-caller.js';
import { WorkflowError, fillWorkflow, type WorkflowValues } from './workflow-template.js';

export const COMFYUI_ENGINE = 'comfyui';
const SUBJECT = "The operator's ComfyUI";

export interface ComfyWorkflowInput {
  /** The AIR of the operator's model: which workflow file runs. */
  air: string;
  values: WorkflowValues;
  /** Uploaded first; its ComfyUI file name fills {{seedImage}}. */
  seedImage?: Uint8Array;
  format: EncodedFormat;
  quality: number;
}

declare module '../builtin/ops/op-table.js' {
  interface OpTable {
    'comfy-workflow': { input: ComfyWorkflowInput; output: EncodedImage };
  }
}

interface BinaryReply extends RemoteReply {
  data: Buffer;
}

export class ComfyUiEngine extends OperatorEngine {
  readonly name = COMFYUI_ENGINE;

  constructor(config: OperatorEngineConfig, audit: AuditStore) {
    super(config, audit, SUBJECT, 'comfyui', { imageInference: 'comfy-workflow' });
  }

  protected probePath(): string {
    return '/system_stats';
  }

  run<K extends OperationName>(
    operation: K,
    input: OperationInput<K>,
    options?: EngineRunOptions,
  ): Promise<OperationOutput<K>> {
    if (operation === 'comfy-workflow')
      return this.workflow(input as ComfyWorkflowInput, options) as Promise<OperationOutput<K>>;
    return Promise.reject(
      new ProtocolError('engineUnavailable', {
        engine: this.name,
        operation,
        reason: 'the engine has no such operation',
      }),
    );
  }

  private async workflow(input: ComfyWorkflowInput, options: EngineRunOptions | undefined): Promise<EncodedImage> {
    const model = this.modelFor(input.air);
    if (!model?.workflow)
      throw new ProtocolError(
        'unsupportedModel',
        { what: `'${input.air}' (no ComfyUI workflow is configured for it)` },
        {
          parameter: 'model',
          type: 'string',
        },
      );
    const values = { ...input.values };
    if (input.seedImage) values['seedImage'] = await this.upload(input.seedImage, options);
    let graph: Record<string, unknown>;
    try {
      graph = fillWorkflow(model.workflow, values);
    } catch (err) {
      if (err instanceof WorkflowError)
        throw new ProtocolError('providerError', {
          subject: `The ComfyUI workflow ${model.workflowPath ?? ''}`,
          reason: `it cannot run this task: ${err.message}`,
        });
      throw err;
    }
    const clientId = randomUUID();
    const progress = this.followProgress(clientId, options);
    try {
      const queued = await this.caller.call(
        async (signal) => {
          const res = await fetch(this.config.url + '/prompt', {
            method: 'POST',
            headers: this.headers({ 'content-type': 'application/json' }),
            body: JSON.stringify({ prompt: graph, client_id: clientId }),
            signal,
          });
          return { status: res.status, text: await res.text() };
        },
        judge,
        this.recorder(options, 'prompt'),
        options?.signal,
      );
      const promptId = stringField(queued.text, 'prompt_id');
      if (!promptId) throw unreadable('to POST /prompt holds no prompt_id');
      progress.watch(promptId);
      const outputs = await this.waitForHistory(promptId, options);
      const file = firstOutputImage(outputs);
      const query = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
      const view = await this.caller.call<BinaryReply>(
        async (signal) => {
          const res = await fetch(`${this.config.url}/view?${query.toString()}`, { headers: this.headers(), signal });
          const data = Buffer.from(await res.arrayBuffer());
          return {
            status: res.status,
            text: res.ok
              ? `(${data.length} bytes of ${res.headers.get('content-type') ?? 'unknown type'})`
              : data.toString('utf8').slice(0, 2000),
            data,
          };
        },
        judge,
        this.recorder(options, 'view', promptId),
        options?.signal,
      );
      const meta = await sharp(view.data)
        .metadata()
        .catch(() => undefined);
      if (!meta?.width || !meta.height) throw unreadable('from GET /view is not an image that could be decoded');
      const image = await encodeAs(sharp(view.data), input.format, input.quality).toBuffer();
      options?.onProgress?.(100);
      return { image, format: input.format, width: meta.width, height: meta.height };
    } finally {
      progress.close();
    }
  }

  /** Uploads the seed image; answers the name the workflow's LoadImage node takes. */
  private async upload(image: Uint8Array, options: EngineRunOptions | undefined): Promise<string> {
    const png = await sharp(image).png().toBuffer();
    const reply = await this.caller.call(
      async (signal) => {
        const form = new FormData();
        form.append('image', new Blob([png], { type: 'image/png' }), `runtrail-${randomUUID()}.png`);
        form.append('overwrite', 'true');
        const res = await fetch(this.config.url + '/upload/image', {
          method: 'POST',
          headers: this.headers(),
          body: form,
          signal,
        });
        return { status: res.status, text: await res.text() };
      },
      judge,
      this.recorder(options, 'upload'),
      options?.signal,
    );
    const name = stringField(reply.text, 'name');
    if (!name) throw unreadable('to POST /upload/image holds no file name');
    const subfolder = stringField(reply.text, 'subfolder');
    return subfolder ? `${subfolder}/${name}` : name;
  }

  /** Polls /history/{id} until the prompt ended; keeps only the last poll and failures for audit. */
  private async waitForHistory(
    promptId: string,
    options: EngineRunOptions | undefined,
  ): Promise<Record<string, unknown>> {
    const record = this.recorder(options, 'history', promptId);
    let pending: Parameters<AttemptRecorder>[0] | undefined;
    const keep: AttemptRecorder = async (x) => {
      if (x.error !== null || x.httpStatus === null || x.httpStatus >= 300) await record(x);
      else pending = x;
    };
    const deadline = Date.now() + this.config.jobTimeoutMs;
    try {
      while (Date.now() < deadline) {
        const reply = await this.caller.call(
          async (signal) => {
            const res = await fetch(`${this.config.url}/history/${encodeURIComponent(promptId)}`, {
              headers: this.headers(),
              signal,
            });
            return { status: res.status, text: await res.text() };
          },
          judge,
          keep,
          options?.signal,
        );
        const entry = historyEntry(reply.text, promptId);
        if (entry) {
          const status = entry['status'] as Record<string, unknown> | undefined;
          if (status?.['status_str'] === 'error')
            throw new ProtocolError('providerError', {
              subject: SUBJECT,
              reason: 'the workflow stopped with an error',
              said: executionMessage(status).trim() || undefined,
            });
          const outputs = entry['outputs'];
          if ((status === undefined || status['completed'] === true) && typeof outputs === 'object' && outputs !== null)
            return outputs as Record<string, unknown>;
        }
        await sleep(this.config.pollMs);
      }
    } finally {
      if (pending) await record(pending);
    }
    throw new ProtocolError('timeoutProvider', {
      subject: SUBJECT,
      reason: `it did not finish the workflow within ${this.config.jobTimeoutMs / 1000} s`,
    });
  }

  /** ComfyUI's WebSocket, for progress only: the outcome always comes from /history, so a socket that fails costs nothing. */
  private followProgress(
    clientId: string,
    options: EngineRunOptions | undefined,
  ): { watch(promptId: string): void; close(): void } {
    const report = options?.onProgress;
    if (!report) return { watch: () => undefined, close: () => undefined };
    let promptId: string | undefined;
    const url = new URL(`${this.config.url}/ws`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('clientId', clientId);
    const ws = new WebSocket(url, { headers: this.headers(), handshakeTimeout: this.config.timeoutMs });
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return; // preview images
      let event: { type?: unknown; data?: { value?: unknown; max?: unknown; prompt_id?: unknown } };
      try {
        event = JSON.parse((data as Buffer).toString()) as typeof event;
      } catch {
        return;
      }
      const d = event.data;
      if (event.type !== 'progress' || typeof d?.value !== 'number' || typeof d.max !== 'number' || d.max <= 0) return;
      if (promptId !== undefined && d.prompt_id !== undefined && d.prompt_id !== promptId) return;
      // Sampling is most of the work; the last percent waits for the saved image.
      report(Math.min(99, Math.round((d.value / d.max) * 100)));
    });
    return {
      watch: (id) => (promptId = id),
      close: () => ws.terminate(),
    };
  }
}

function judge(reply: RemoteReply): Verdict {
  const peerFailed = reply.status >= 500;
  if (reply.status >= 200 && reply.status < 300) return { accept: true };
  if (RETRYABLE_STATUS.has(reply.status)) return { retry: httpFailure(SUBJECT, reply), peerFailed };
  if (reply.status === 401 || reply.status === 403) {
    return {
      fail: new ProtocolError('providerError', {
        subject: SUBJECT,
        reason: `it refused this server's key (HTTP ${reply.status}); the operator must check RUNTRAIL_COMFYUI_API_KEY`,
      }),
    };
  }
  return { fail: httpFailure(SUBJECT, reply, comfyMessage(reply.text)), peerFailed };
}

/** ComfyUI's refusal of a graph: `{error: {message, details}, node_errors: {...}}`. */
function comfyMessage(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as { error?: { message?: unknown; details?: unknown } | string };
    if (typeof v.error === 'string') return v.error;
    if (typeof v.error?.message === 'string')
      return `${v.error.message}${typeof v.error.details === 'string' && v.error.details ? ` (${v.error.details})` : ''}`;
  } catch {
    // not JSON
  }
  return text.trim() === '' ? undefined : text.slice(0, 200);
}

function executionMessage(status: Record<string, unknown>): string {
  const messages = Array.isArray(status['messages']) ? (status['messages'] as unknown[]) : [];
  for (const m of messages) {
    if (Array.isArray(m) && m[0] === 'execution_error' && typeof m[1] === 'object' && m[1] !== null) {
      const e = m[1] as Record<string, unknown>;
      const said = e['exception_message'] ?? e['exception_type'];
      return ` It said: ${(typeof said === 'string' ? said : 'execution error').slice(0, 300)}`;
    }
  }
  return '';
}

function historyEntry(text: string, promptId: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw unreadable('from GET /history is not JSON');
  }
  const entry = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[promptId] : undefined;
  return typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : undefined;
}

function firstOutputImage(outputs: Record<string, unknown>): { filename: string; subfolder: string; type: string } {
  for (const out of Object.values(outputs)) {
    const images = (out as { images?: unknown } | null)?.images;
    if (!Array.isArray(images)) continue;
    for (const img of images as Record<string, unknown>[]) {
      if (typeof img['filename'] === 'string') {
        return {
          filename: img['filename'],
          subfolder: typeof img['subfolder'] === 'string' ? img['subfolder'] : '',
          type: typeof img['type'] === 'string' ? img['type'] : 'output',
        };
      }
    }
  }
  throw new ProtocolError('providerError', {
    subject: SUBJECT,
    reason: 'it finished the workflow without an output image (does it end in a SaveImage node?)',
  });
}

function stringField(text: string, name: string): string | undefined {
  try {
    const v = (JSON.parse(text) as Record<string, unknown>)[name];
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function unreadable(what: string): ProtocolError {
  return new ProtocolError('unrecognizedResponse', { subject: SUBJECT, what });
}
