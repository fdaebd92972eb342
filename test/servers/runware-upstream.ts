// A Runware-compatible test upstream that misbehaves on purpose, for the archive of forwarded
// outputs (docs/engines.md). POST /v1 takes task arrays as Runware's REST API does and answers
// `{data}` items echoing the taskUUID it was sent, with outputs as Runware gives them: an
// `imageURL` on its own file server (GET /files/<name>), `imageBase64Data` or `imageDataURI` when
// the task's outputType asks. Async tasks (deliveryMethod "async") are answered at once and then
// through getResponse, one result ending per poll. The task's positivePrompt picks what the
// outputs do:
//
// - `ok` (or anything else): a real PNG, served as image/png;
// - `missing`: the file answers 404;
// - `flaky`: the file answers 503 twice, then the PNG;
// - `huge`: the file streams without end (no Content-Length) until the client stops reading;
// - `declared-huge`: a Content-Length of 10 GB is announced;
// - `html`: an HTML page served as text/html;
// - `mislabelled`: PNG bytes served as image/jpeg;
// - `audio-as-image`: a WAV file (served as audio/wav) in an imageURL;
// - `private`: URLs at private and link-local addresses (10.255.255.1, 169.254.169.254);
// - `slow`: the file answers after `slowMs`;
// - `svg`: an SVG document (served as image/svg+xml).
//
// The task type picks the member: audioInference answers an `audioURL` (a WAV file),
// videoInference a `videoURL` (an MP4 that ffmpeg made at start), imageMasking a `maskImageURL`
// (a grayscale PNG mask), every other task type an `imageURL`.
//
// POST /hooks answers 204 (a webhook receiver). deleteFile(url) makes that file answer 404 from then on, as when an upstream's storage expires.
// Run alone: `node dist/test/servers/runware-upstream.js [port]`.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { ffmpeg } from '../../src/engines/builtin/av/ffmpeg-binary.js';
import { readBody, sendJson, sleep } from './http-helpers.js';

export interface RunwareTestUpstream {
  /** Base URL as an operator would set RUNTRAIL_UPSTREAM_URL: `http://127.0.0.1:PORT/v1`. */
  url: string;
  /** Every POST /v1 body exactly as received. */
  bodies: string[];
  /** The Authorization header of each of those POSTs, in the same order. */
  authorizations: (string | undefined)[];
  /** GETs of files, by file name: how many times each was asked for. */
  fileHits: Map<string, number>;
  /** The PNG every `ok` output serves (to compare archived copies with). */
  png: Buffer;
  /** What audioInference, videoInference and imageMasking outputs serve. */
  wav: Buffer;
  mp4: Buffer;
  mask: Buffer;
  /** How long a `slow` file waits before answering. */
  slowMs: number;
  /** Polls of an async task between two of its results ending. */
  pollsPerResult: number;
  /** From now on the file at `url` answers 404. */
  deleteFile(url: string): void;
  close(): Promise<void>;
}

interface PendingAsync {
  prompt: string;
  results: number;
  polls: number;
  taskType: string;
  /** Results once ended, by index: later polls answer the same. */
  ended: Map<number, Record<string, unknown>>;
}

export async function startRunwareUpstream(port = 0): Promise<RunwareTestUpstream> {
  const png = await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 200, g: 40, b: 40 } } })
    .png()
    .toBuffer();
  const jpeg = await sharp(png).jpeg().toBuffer();
  const wav = wavFile();
  const mp4 = await mp4File();
  const mask = await sharp({ create: { width: 96, height: 64, channels: 3, background: '#000' } })
    .composite([{ input: { create: { width: 40, height: 30, channels: 3, background: '#fff' } }, left: 20, top: 10 }])
    .toColourspace('b-w')
    .png()
    .toBuffer();
  const svg =
    '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>';
  const bodies: string[] = [];
  const authorizations: (string | undefined)[] = [];
  const fileHits = new Map<string, number>();
  const asyncTasks = new Map<string, PendingAsync>();
  const deleted = new Set<string>();
  let base = '';

  const outputsFor = (
    prompt: string,
    outputType: unknown,
    n: number,
    taskType: unknown = 'imageInference',
  ): Record<string, unknown> => {
    if (taskType === 'audioInference')
      return { audioUUID: randomUUID(), audioURL: `${base}/files/wav-${n}-${randomUUID()}.wav` };
    if (taskType === 'videoInference')
      return { videoUUID: randomUUID(), videoURL: `${base}/files/mp4-${n}-${randomUUID()}.mp4` };
    if (taskType === 'imageMasking')
      return { maskImageUUID: randomUUID(), maskImageURL: `${base}/files/mask-${n}-${randomUUID()}.png` };
    if (outputType === 'base64Data') return { imageBase64Data: png.toString('base64') };
    if (outputType === 'dataURI') return { imageDataURI: `data:image/png;base64,${png.toString('base64')}` };
    if (prompt === 'private')
      return { imageURL: 'http://10.255.255.1/secret.png', maskImageURL: 'http://169.254.169.254/latest/meta-data/' };
    return { imageURL: `${base}/files/${prompt || 'ok'}-${n}-${randomUUID()}.${prompt === 'svg' ? 'svg' : 'png'}` };
  };

  const item = (task: Record<string, unknown>, index: number) => ({
    taskType: task['taskType'],
    taskUUID: task['taskUUID'],
    imageUUID: randomUUID(),
    ...outputsFor(String(task['positivePrompt'] ?? 'ok'), task['outputType'], index, task['taskType']),
    cost: 0.001,
  });

  const serveFile = async (name: string, res: ServerResponse) => {
    fileHits.set(name, (fileHits.get(name) ?? 0) + 1);
    const kind = name.replace(/-\d+-[0-9a-f-]{36}\.\w+$/, '');
    if (deleted.has(name) || kind === 'missing')
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('gone');
    if (kind === 'flaky' && fileHits.get(name)! <= 2) return void res.writeHead(503).end('try later');
    if (kind === 'slow') await sleep(upstream.slowMs);
    if (kind === 'huge') {
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(256 * 1024, 7);
      chunk.set(png.subarray(0, 8));
      // Writes until the reader goes away (or 1 GiB, far past any bound under test).
      for (let sent = 0; sent < 1024 ** 3 && !res.destroyed; sent += chunk.length) {
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r).once('close', r));
      }
      return void res.end();
    }
    if (kind === 'declared-huge') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(10 * 1024 ** 3) });
      return void res.write(png);
    }
    const [type, body] =
      kind === 'html'
        ? ['text/html', Buffer.from('<!doctype html><title>Sign in</title><p>Please sign in')]
        : kind === 'mislabelled'
          ? ['image/jpeg', png]
          : kind === 'audio-as-image'
            ? ['audio/wav', wav]
            : kind === 'wav'
              ? ['audio/wav', wav]
              : kind === 'mp4'
                ? ['video/mp4', mp4]
                : kind === 'mask'
                  ? ['image/png', mask]
                  : kind === 'svg'
                    ? ['image/svg+xml', Buffer.from(svg)]
                    : kind === 'jpeg'
                      ? ['image/jpeg', jpeg]
                      : ['image/png', png];
    res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);
  };

  const answerTasks = (tasks: Record<string, unknown>[]) => {
    const data: unknown[] = [];
    for (const task of tasks) {
      const uuid = String(task['taskUUID']);
      if (task['taskType'] === 'getResponse') {
        const pending = asyncTasks.get(uuid);
        if (!pending) continue;
        pending.polls++;
        for (let i = 0; i < pending.results; i++) {
          if (i >= Math.floor(pending.polls / upstream.pollsPerResult)) {
            data.push({ taskType: pending.taskType, taskUUID: uuid, status: 'processing' });
            continue;
          }
          // The same result keeps the same output once ended, as Runware's stored results do.
          const t = { taskType: pending.taskType, taskUUID: uuid, positivePrompt: pending.prompt };
          if (!pending.ended.has(i)) pending.ended.set(i, { ...item(t, i), status: 'success' });
          data.push(pending.ended.get(i));
        }
        continue;
      }
      const n = typeof task['numberResults'] === 'number' ? task['numberResults'] : 1;
      if (task['deliveryMethod'] === 'async') {
        asyncTasks.set(uuid, {
          prompt: String(task['positivePrompt'] ?? 'ok'),
          results: n,
          polls: 0,
          taskType: String(task['taskType']),
          ended: new Map(),
        });
        data.push({ taskType: task['taskType'], taskUUID: uuid });
        continue;
      }
      for (let i = 0; i < n; i++) data.push(item(task, i));
    }
    return { data };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path.startsWith('/files/')) return serveFile(decodeURIComponent(path.slice(7)), res);
    // A webhook receiver beside the API, for tests that need one on a known host.
    if (req.method === 'POST' && path === '/hooks') {
      await readBody(req);
      return void res.writeHead(204).end();
    }
    if (req.method === 'POST' && path === '/v1') {
      const body = (await readBody(req)).toString('utf8');
      bodies.push(body);
      authorizations.push(req.headers.authorization);
      sendJson(res, 200, answerTasks(JSON.parse(body) as Record<string, unknown>[]));
      return;
    }
    sendJson(res, 404, { errors: [{ code: 'notFound', message: 'no such route' }] });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { errors: [{ code: 'internal', message: String(err) }] });
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const upstream: RunwareTestUpstream = {
    url: `${base}/v1`,
    bodies,
    authorizations,
    fileHits,
    png,
    wav,
    mp4,
    mask,
    slowMs: 5000,
    pollsPerResult: 1,
    deleteFile: (url) => {
      deleted.add(decodeURIComponent(new URL(url).pathname.slice('/files/'.length)));
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return upstream;
}

/** Half a second of a test pattern as MP4 (MPEG-4 Part 2), made with the ffmpeg runtrail uses. */
async function mp4File(): Promise<Buffer> {
  const found = ffmpeg();
  if (!found.ok) throw new Error(`the test upstream needs ffmpeg for its video output: ${found.reason}`);
  const dir = mkdtempSync(join(tmpdir(), 'runware-upstream-'));
  try {
    const file = join(dir, 'clip.mp4');
    await promisify(execFile)(found.path, [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=64x48:rate=10',
      '-t',
      '0.5',
      '-c:v',
      'mpeg4',
      '-pix_fmt',
      'yuv420p',
      file,
    ]);
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A short silent WAV file. */
function wavFile(): Buffer {
  const samples = Buffer.alloc(800);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + samples.length, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(samples.length, 40);
  return Buffer.concat([header, samples]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const upstream = await startRunwareUpstream(Number(process.argv[2] ?? 0));
  process.stdout.write(`Runware-compatible test upstream on ${upstream.url}\n`);
}
