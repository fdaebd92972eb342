// A test server implementing the documented routes of ComfyUI's server: POST /prompt (an API
// format graph, answered with prompt_id or node_errors), the WebSocket /ws?clientId= (status,
// execution_start, progress per sampling step, executing with node null at the end),
// GET /history/{prompt_id}, GET /view, POST /upload/image (multipart) and GET /system_stats.
// No model runs: the "sampler" paints an image computed from the graph's inputs (the
// CLIPTextEncode texts, seed, steps, cfg, scheduler, the latent's size, and an uploaded image
// blended in by denoise). Fault switches: slow, an HTTP status, an execution error.
// Run alone: `node dist/test/servers/comfyui-server.js [port]`.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { WebSocketServer, type WebSocket } from 'ws';
import { colourOf, digest, readBody, sendJson, sleep } from './http-helpers.js';

export interface ComfyFaults {
  delayMs: number;
  status: number | null;
  /** The next prompts end in an execution error. */
  executionError: boolean;
  /** Pause per sampling step (progress events go out in between). */
  stepDelayMs: number;
}

type Graph = Record<string, { class_type?: unknown; inputs?: Record<string, unknown> }>;

export interface ComfyTestServer {
  url: string;
  faults: ComfyFaults;
  /** Graphs queued, as received. */
  prompts: Graph[];
  authorizations: (string | undefined)[];
  /** Progress events sent over WebSocket. */
  progressEvents(): number;
  /** WebSockets still open (runtrail closes its own after each prompt). */
  openSockets(): number;
  close(): Promise<void>;
}

export async function startComfyTestServer(port = 0): Promise<ComfyTestServer> {
  const faults: ComfyFaults = { delayMs: 0, status: null, executionError: false, stepDelayMs: 0 };
  const prompts: Graph[] = [];
  const authorizations: (string | undefined)[] = [];
  const history = new Map<string, unknown>();
  const files = new Map<string, Buffer>();
  const sockets = new Map<string, WebSocket>();
  let progress = 0;
  let counter = 0;

  const emit = (clientId: string, type: string, data: unknown) =>
    sockets.get(clientId)?.send(JSON.stringify({ type, data }));

  const execute = async (id: string, graph: Graph, clientId: string, number: number): Promise<void> => {
    emit(clientId, 'execution_start', { prompt_id: id });
    const nodes = Object.entries(graph);
    const sampler = nodes.find(([, n]) => String(n.class_type).startsWith('KSampler'))![1].inputs!;
    const save = nodes.find(([, n]) => n.class_type === 'SaveImage')!;
    const latent = nodes.find(([, n]) => n.class_type === 'EmptyLatentImage')?.[1].inputs;
    const loaded = nodes.find(([, n]) => n.class_type === 'LoadImage')?.[1].inputs;
    const texts = nodes.filter(([, n]) => n.class_type === 'CLIPTextEncode').map(([, n]) => n.inputs?.['text']);
    const steps = Number(sampler['steps'] ?? 20);
    for (let i = 1; i <= steps; i++) {
      if (faults.stepDelayMs > 0) await sleep(faults.stepDelayMs);
      progress++;
      emit(clientId, 'progress', { value: i, max: steps, prompt_id: id, node: null });
    }
    const status = (str: string, messages: unknown[]) => ({ status_str: str, completed: str === 'success', messages });
    if (faults.executionError) {
      history.set(id, {
        prompt: [number, id, graph, {}, [save[0]]],
        outputs: {},
        status: status('error', [
          [
            'execution_error',
            { prompt_id: id, exception_message: 'fault switch: CUDA out of memory', exception_type: 'RuntimeError' },
          ],
        ]),
      });
      emit(clientId, 'executing', { node: null, prompt_id: id });
      return;
    }
    const hash = digest(
      texts,
      sampler['seed'],
      sampler['steps'],
      sampler['cfg'],
      sampler['scheduler'],
      sampler['sampler_name'],
    );
    const { r, g, b } = colourOf(hash);
    let image: Buffer;
    if (loaded) {
      const input = files.get(String(loaded['image']));
      if (!input) throw new Error(`LoadImage: no uploaded file ${String(loaded['image'])}`);
      const denoise = Number(sampler['denoise'] ?? 1);
      const meta = await sharp(input).metadata();
      const tint = await sharp({
        create: { width: meta.width, height: meta.height, channels: 3, background: { r, g, b } },
      })
        .png()
        .toBuffer();
      // Denoise 1 repaints everything; 0 keeps the input.
      image = await sharp(input)
        .removeAlpha()
        .composite([{ input: await sharp(tint).ensureAlpha(denoise).png().toBuffer() }])
        .png()
        .toBuffer();
    } else {
      const width = Number(latent?.['width'] ?? 512);
      const height = Number(latent?.['height'] ?? 512);
      const half = Math.max(1, Math.floor(width / 2));
      const left = await sharp({ create: { width: half, height, channels: 3, background: { r, g, b } } })
        .png()
        .toBuffer();
      image = await sharp({
        create: { width, height, channels: 3, background: { r: 255 - r, g: 255 - g, b: 255 - b } },
      })
        .composite([{ input: left, left: 0, top: 0 }])
        .png()
        .toBuffer();
    }
    const prefix = String(save[1].inputs?.['filename_prefix'] ?? 'ComfyUI');
    const filename = `${prefix}_${String(++counter).padStart(5, '0')}_.png`;
    files.set(`output/${filename}`, image);
    history.set(id, {
      prompt: [number, id, graph, {}, [save[0]]],
      outputs: { [save[0]]: { images: [{ filename, subfolder: '', type: 'output' }] } },
      status: status('success', []),
    });
    emit(clientId, 'executing', { node: null, prompt_id: id });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://x');
    authorizations.push(req.headers.authorization);
    if (faults.delayMs > 0) await sleep(faults.delayMs);
    if (res.destroyed) return;
    if (faults.status !== null) {
      sendJson(res, faults.status, {
        error: { type: 'fault', message: `fault switch: HTTP ${faults.status}`, details: '' },
      });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/system_stats') {
      sendJson(res, 200, { system: { os: 'test', comfyui_version: 'test-server' }, devices: [] });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/upload/image') {
      const form = await new Response(new Uint8Array(raw), {
        headers: { 'content-type': req.headers['content-type'] ?? '' },
      }).formData();
      const file = form.get('image');
      if (!(file instanceof Blob)) {
        sendJson(res, 400, { error: 'no image' });
        return;
      }
      const name = file.name || `${randomUUID()}.png`;
      files.set(name, Buffer.from(await file.arrayBuffer()));
      sendJson(res, 200, { name, subfolder: '', type: 'input' });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/prompt') {
      let body: { prompt?: Graph; client_id?: string };
      try {
        body = JSON.parse(raw.toString('utf8')) as typeof body;
      } catch {
        sendJson(res, 400, {
          error: { type: 'invalid_prompt', message: 'Cannot parse the prompt', details: '' },
          node_errors: {},
        });
        return;
      }
      const graph = body.prompt;
      const nodes = graph && typeof graph === 'object' ? Object.entries(graph) : [];
      const broken = nodes.filter(([, n]) => typeof n?.class_type !== 'string' || typeof n.inputs !== 'object');
      const hasOutput = nodes.some(([, n]) => n.class_type === 'SaveImage');
      const sampler = nodes.find(([, n]) => String(n.class_type).startsWith('KSampler'));
      if (nodes.length === 0 || broken.length > 0 || !hasOutput || !sampler) {
        sendJson(res, 400, {
          error: {
            type: 'prompt_outputs_failed_validation',
            message: 'Prompt outputs failed validation',
            details: hasOutput ? 'no sampler' : 'no output node',
          },
          node_errors: Object.fromEntries(
            broken.map(([id]) => [
              id,
              { errors: [{ type: 'invalid_node', message: 'node has no class_type or inputs' }] },
            ]),
          ),
        });
        return;
      }
      const steps = sampler[1].inputs?.['steps'];
      if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1) {
        sendJson(res, 400, {
          error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '' },
          node_errors: {
            [sampler[0]]: {
              errors: [
                { type: 'value_not_valid', message: `steps must be an integer >= 1, got ${JSON.stringify(steps)}` },
              ],
            },
          },
        });
        return;
      }
      prompts.push(graph!);
      const id = randomUUID();
      const number = prompts.length;
      setImmediate(() => {
        execute(id, graph!, body.client_id ?? '', number).catch((err: unknown) => {
          history.set(id, {
            prompt: [],
            outputs: {},
            status: {
              status_str: 'error',
              completed: false,
              messages: [['execution_error', { exception_message: String(err) }]],
            },
          });
        });
      });
      sendJson(res, 200, { prompt_id: id, number, node_errors: {} });
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/history/')) {
      const id = decodeURIComponent(url.pathname.slice('/history/'.length));
      const entry = history.get(id);
      sendJson(res, 200, entry ? { [id]: entry } : {});
      return;
    }
    if (req.method === 'GET' && url.pathname === '/view') {
      const type = url.searchParams.get('type') ?? 'output';
      const name = url.searchParams.get('filename') ?? '';
      const file = files.get(type === 'output' ? `output/${name}` : name);
      if (!file) {
        sendJson(res, 404, { error: 'not found' });
        return;
      }
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': file.length }).end(file);
      return;
    }
    sendJson(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(err) });
      else res.destroy();
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/ws') return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      const clientId = url.searchParams.get('clientId') ?? randomUUID();
      sockets.set(clientId, ws);
      ws.on('close', () => sockets.delete(clientId));
      ws.send(
        JSON.stringify({ type: 'status', data: { status: { exec_info: { queue_remaining: 0 } }, sid: clientId } }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    faults,
    prompts,
    authorizations,
    progressEvents: () => progress,
    openSockets: () => sockets.size,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startComfyTestServer(Number(process.argv[2] ?? 0));
  console.log(`ComfyUI test server at ${s.url}`);
}
