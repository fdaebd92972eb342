// A test server implementing the documented request and response shapes of OpenAI's Chat
// Completions (whole and streamed as Server-Sent Events of chat.completion.chunk objects, with
// stream_options.include_usage) and Images APIs, as Ollama, llama.cpp's server, vLLM and LocalAI
// serve them. No model runs: answers are deterministic but computed from the input (the words of
// the last user message, words picked by a hash of the whole request, the colour of an image
// sent as an image_url part). Fault switches make it slow, fail with a status, or cut a stream.
// Run alone: `node dist/test/servers/openai-compatible-server.js [port]`.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { colourName, colourOf, digest, readBody, sendJson, sleep } from './http-helpers.js';

export interface OpenAiFaults {
  /** Wait this long before answering. */
  delayMs: number;
  /** Answer every request with this HTTP status and an OpenAI error body. */
  status: number | null;
  /** Destroy the connection after this many streamed chunks. */
  cutAfterChunks: number | null;
  /** Pause between streamed chunks. */
  chunkDelayMs: number;
  /** Answer images with a `url` whatever response_format asked (as some servers do). */
  imagesAsUrl: boolean;
}

export interface SeenRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown> | undefined;
}

export interface OpenAiTestServer {
  /** Base URL as an operator would set it: `http://127.0.0.1:PORT/v1`. */
  url: string;
  faults: OpenAiFaults;
  requests: SeenRequest[];
  /** Streams whose connection is still open. */
  openStreams(): number;
  close(): Promise<void>;
}

const VOCABULARY = (
  'amber quiet harbor lantern meadow silver drift canyon ember willow orbit velvet cobalt tide ' +
  'granite feather echo summit prism hollow breeze ivory thunder moss glacier crimson dune aurora pebble'
).split(' ');

interface ChatMessage {
  role: string;
  content: string | { type: string; text?: string; image_url?: { url: string } }[];
}

export async function startOpenAiTestServer(port = 0): Promise<OpenAiTestServer> {
  const faults: OpenAiFaults = { delayMs: 0, status: null, cutAfterChunks: null, chunkDelayMs: 0, imagesAsUrl: false };
  const requests: SeenRequest[] = [];
  const files = new Map<string, Buffer>();
  let streams = 0;
  let base = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0]!;
    let body: Record<string, unknown> | undefined;
    try {
      body = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    } catch {
      sendJson(res, 400, { error: { message: 'body is not JSON', type: 'invalid_request_error' } });
      return;
    }
    requests.push({ method: req.method ?? 'GET', path, authorization: req.headers.authorization, body });
    if (faults.delayMs > 0) await sleep(faults.delayMs);
    if (res.destroyed) return;
    if (req.method === 'GET' && path.startsWith('/files/')) {
      const file = files.get(path.slice('/files/'.length));
      if (!file) {
        sendJson(res, 404, { error: { message: 'no such file' } });
        return;
      }
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': file.length }).end(file);
      return;
    }
    if (faults.status !== null) {
      sendJson(res, faults.status, {
        error: { message: `fault switch: HTTP ${faults.status}`, type: 'server_error' },
      });
      return;
    }
    if (req.method === 'GET' && path === '/v1/models') {
      sendJson(res, 200, { object: 'list', data: [{ id: 'test-model', object: 'model', owned_by: 'test' }] });
      return;
    }
    if (req.method === 'POST' && path === '/v1/chat/completions' && body) return chat(body, res);
    if (req.method === 'POST' && path === '/v1/images/generations' && body) return images(body, res);
    sendJson(res, 404, { error: { message: `no route ${req.method} ${path}` } });
  };

  const chat = async (body: Record<string, unknown>, res: ServerResponse): Promise<void> => {
    const messages = body['messages'];
    if (typeof body['model'] !== 'string' || !Array.isArray(messages) || messages.length === 0) {
      sendJson(res, 400, {
        error: { message: "'model' and 'messages' are required", type: 'invalid_request_error' },
      });
      return;
    }
    if (body['model'] === 'missing-model') {
      sendJson(res, 404, { error: { message: "model 'missing-model' not found", type: 'not_found_error' } });
      return;
    }
    const answer = await answerFor(body['model'], messages as ChatMessage[], body);
    const maxTokens = typeof body['max_tokens'] === 'number' ? body['max_tokens'] : Infinity;
    const words = answer.slice(0, maxTokens);
    const finish = words.length < answer.length ? 'length' : 'stop';
    const promptTokens = (messages as ChatMessage[]).reduce(
      (n, m) => n + textOf(m).split(/\s+/).filter(Boolean).length,
      0,
    );
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: words.length,
      total_tokens: promptTokens + words.length,
    };
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    if (body['stream'] !== true) {
      sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: body['model'],
        choices: [{ index: 0, message: { role: 'assistant', content: words.join(' ') }, finish_reason: finish }],
        usage,
      });
      return;
    }
    streams++;
    res.on('close', () => streams--);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    const piece = (delta: Record<string, unknown>, finishReason: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: body['model'],
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    });
    send(piece({ role: 'assistant', content: '' }, null));
    for (const [i, word] of words.entries()) {
      if (faults.cutAfterChunks !== null && i >= faults.cutAfterChunks) {
        // Let what was written reach the client first: the cut comes mid-stream, not before it.
        await sleep(100);
        res.destroy();
        return;
      }
      if (faults.chunkDelayMs > 0) await sleep(faults.chunkDelayMs);
      if (res.destroyed) return;
      send(piece({ content: i === 0 ? word : ` ${word}` }, null));
    }
    send(piece({}, finish));
    const options = body['stream_options'] as { include_usage?: unknown } | undefined;
    if (options?.include_usage === true)
      send({ id, object: 'chat.completion.chunk', created, model: body['model'], choices: [], usage });
    res.end('data: [DONE]\n\n');
  };

  const images = async (body: Record<string, unknown>, res: ServerResponse): Promise<void> => {
    const size = typeof body['size'] === 'string' ? /^(\d+)x(\d+)$/.exec(body['size']) : null;
    if (typeof body['prompt'] !== 'string' || !size) {
      sendJson(res, 400, {
        error: { message: "'prompt' and a 'size' WxH are required", type: 'invalid_request_error' },
      });
      return;
    }
    const width = Number(size[1]);
    const height = Number(size[2]);
    const hash = digest(body['model'], body['prompt'], body['seed'] ?? null, body['negative_prompt'] ?? null);
    const { r, g, b } = colourOf(hash);
    // A vertical gradient from the prompt's colour to its complement: the pixels depend on the input.
    const rows = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      const t = height > 1 ? y / (height - 1) : 0;
      for (let x = 0; x < width; x++) {
        const o = (y * width + x) * 3;
        rows[o] = Math.round(r * (1 - t) + (255 - r) * t);
        rows[o + 1] = Math.round(g * (1 - t) + (255 - g) * t);
        rows[o + 2] = Math.round(b * (1 - t) + (255 - b) * t);
      }
    }
    const png = await sharp(rows, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();
    const created = Math.floor(Date.now() / 1000);
    if (body['response_format'] === 'url' || faults.imagesAsUrl) {
      const name = `${randomUUID()}.png`;
      files.set(name, png);
      sendJson(res, 200, { created, data: [{ url: `${base}/files/${name}` }] });
      return;
    }
    sendJson(res, 200, {
      created,
      data: [{ b64_json: png.toString('base64'), revised_prompt: body['prompt'] }],
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(err) } });
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/v1`,
    faults,
    requests,
    openStreams: () => streams,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The words of the answer: computed from the request, never a fixed string. */
async function answerFor(model: string, messages: ChatMessage[], body: Record<string, unknown>): Promise<string[]> {
  const last = [...messages].reverse().find((m) => m.role === 'user') ?? messages[messages.length - 1]!;
  const image = Array.isArray(last.content)
    ? last.content.find((p) => p.type === 'image_url')?.image_url?.url
    : undefined;
  const hash = digest(model, messages, body['temperature'] ?? null, body['seed'] ?? null, body['top_p'] ?? null);
  const picked = Array.from(
    { length: 6 + (hash[0]! % 10) },
    (_, i) => VOCABULARY[hash[(i + 1) % hash.length]! % VOCABULARY.length]!,
  );
  if (image) {
    const data = Buffer.from(image.slice(image.indexOf(',') + 1), 'base64');
    const stats = await sharp(data).stats();
    const meta = await sharp(data).metadata();
    const [r, g, b] = stats.channels.map((c) => Math.round(c.mean));
    return `An image of ${meta.width}x${meta.height} pixels, mostly ${colourName(r!, g!, b!)}.`.split(' ');
  }
  const said = textOf(last).split(/\s+/).filter(Boolean).slice(0, 24);
  return [...said, ...picked];
}

function textOf(m: ChatMessage): string {
  return typeof m.content === 'string' ? m.content : m.content.map((p) => p.text ?? '').join(' ');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startOpenAiTestServer(Number(process.argv[2] ?? 0));
  console.log(`OpenAI-compatible test server at ${s.url}`);
}
