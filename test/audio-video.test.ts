// audioInference and videoInference end to end: a server started as the README says, driven over
// REST, WebSocket and @runware/sdk-js, the produced files fetched from their URLs and DECODED
// with ffmpeg (codec, sample rate, channels, duration, loudness; frame size, frame count,
// motion). Bad input answers Runware's codes and is recorded; no encoder process or busy pool
// thread is left behind. A second server without espeak-ng (and with an ffmpeg on its PATH)
// shows the speech engine not ready and which ffmpeg runs.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunwareServer } from '@runware/sdk-js';
import { startServer, uuid, REPO_ROOT, type Reply, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/ws-client.js';
import { getResponse, pollUntil } from './helpers/async.js';
import { childPids, decodeAudio, decodeVideo, frameDifference, videoFrames } from './helpers/media-probe.js';
import { ffmpeg } from '../src/engines/builtin/av/ffmpeg-binary.js';
import { espeak } from '../src/engines/builtin/av/espeak.js';

type Item = Record<string, unknown>;
type Sdk = InstanceType<typeof RunwareServer>;

const PHOTO_A = readFileSync(join(REPO_ROOT, 'test/fixtures/photos/astronaut-portrait.jpg'));
const PHOTO_B = readFileSync(join(REPO_ROOT, 'test/fixtures/photos/coffee-cup-on-table.jpg'));
const dataUri = (b: Buffer) => `data:image/jpeg;base64,${b.toString('base64')}`;

// eSpeak NG is a Debian package (.ci/run installs it); under CI its absence is a failure.
const haveEspeak = espeak().ok;
if (!haveEspeak && process.env.CI === 'true') throw new Error('espeak-ng is not installed (apt-get install espeak-ng)');
// node:test awaits what it registers, as for test() itself.
const speechTest = (name: string, fn: () => Promise<void>): void => {
  void (haveEspeak ? test : test.skip)(name, fn);
};

let server: TestServer;

before(async () => {
  assert.ok(ffmpeg().ok, 'an ffmpeg is installed (npm ci brings @ffmpeg-installer/linux-x64)');
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

async function fetchMedia(url: string, contentType: string): Promise<Buffer> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  assert.equal(res.headers.get('content-type'), contentType);
  return Buffer.from(await res.arrayBuffer());
}

async function details(s: TestServer, taskUUID: string): Promise<string> {
  const reply = await s.post([{ taskType: 'getTaskDetails', taskUUID }]);
  assert.equal(reply.status, 200, reply.text);
  return reply.text;
}

function onlyError(reply: Reply): Item {
  assert.equal(reply.json.errors?.length, 1, reply.text);
  return reply.json.errors[0]!;
}

/** Nothing left running: no child process of the server, no operation pending in its pool. */
async function assertNothingLeft(s: TestServer): Promise<void> {
  // A child is reaped just before its result is sent; allow a moment for one still exiting, so
  // that only a process that stays counts as left behind.
  const left = await pollUntil(
    () => Promise.resolve(childPids(s.process.pid!)),
    (pids) => pids.length === 0,
    10_000,
    100,
  ).catch(() => childPids(s.process.pid!));
  assert.deepEqual(left.map(commandOf), [], 'no encoder or synthesizer process is left running');
  const health = (await (await fetch(`${s.url}/healthz/engines`)).json()) as {
    engines: { name: string; pool?: { pending: number } }[];
  };
  assert.equal(health.engines.find((e) => e.name === 'builtin')?.pool?.pending, 0, 'no operation left in the pool');
}

async function finished(
  s: TestServer,
  taskUUID: string,
  timeoutMs = 120_000,
): Promise<{ items: Item[]; sawProgress: number[] }> {
  const sawProgress: number[] = [];
  const reply = await pollUntil(
    () => getResponse(s, taskUUID),
    (r) => {
      for (const i of r.json.data ?? [])
        if (i['status'] === 'processing' && typeof i['progress'] === 'number') sawProgress.push(i['progress']);
      const items = [...(r.json.data ?? []), ...(r.json.errors ?? [])];
      return items.length > 0 && items.every((i) => i['status'] !== 'processing');
    },
    timeoutMs,
    50,
  );
  assert.deepEqual(reply.json.errors ?? [], [], reply.text);
  return { items: reply.json.data!, sawProgress };
}

describe('audioInference', () => {
  speechTest('speech in each output format, at the asked sample rate and channels, audible and recorded', async () => {
    const cases = [
      {
        outputFormat: 'MP3',
        audioSettings: { sampleRate: 24000, channels: 2, bitrate: 64 },
        codec: 'mp3',
        ext: 'mp3',
        type: 'audio/mpeg',
        rate: 24000,
        channels: 2,
      },
      {
        outputFormat: 'WAV',
        audioSettings: undefined,
        codec: 'pcm_s16le',
        ext: 'wav',
        type: 'audio/wav',
        rate: 44100,
        channels: 1,
      },
      {
        outputFormat: 'FLAC',
        audioSettings: { sampleRate: 16000 },
        codec: 'flac',
        ext: 'flac',
        type: 'audio/flac',
        rate: 16000,
        channels: 1,
      },
      {
        outputFormat: 'OGG',
        audioSettings: { sampleRate: 48000, bitrate: 96 },
        codec: 'vorbis',
        ext: 'ogg',
        type: 'audio/ogg',
        rate: 48000,
        channels: 1,
      },
    ];
    for (const c of cases) {
      const task = {
        taskType: 'audioInference',
        taskUUID: uuid(),
        model: 'elevenlabs:1@1',
        speech: { text: 'The quick brown fox jumps over the lazy dog, twice.', voice: 'en-gb' },
        outputFormat: c.outputFormat,
        ...(c.audioSettings ? { audioSettings: c.audioSettings } : {}),
        seed: 42,
      };
      const reply = await server.post([task]);
      assert.equal(reply.status, 200, reply.text);
      const item = reply.json.data![0]!;
      assert.deepEqual(Object.keys(item), ['taskType', 'taskUUID', 'audioUUID', 'audioURL', 'seed']);
      assert.equal(item['seed'], 42);
      assert.match(String(item['audioURL']), new RegExp(`/${String(item['audioUUID'])}\\.${c.ext}$`));
      const audio = await decodeAudio(await fetchMedia(String(item['audioURL']), c.type), c.ext);
      assert.equal(audio.codec, c.codec, c.outputFormat);
      assert.equal(audio.sampleRate, c.rate, c.outputFormat);
      assert.equal(audio.channels, c.channels, c.outputFormat);
      assert.ok(audio.seconds > 1.5 && audio.seconds < 10, `${c.outputFormat}: ${audio.seconds} s of speech`);
      assert.ok(audio.rms > 0.02, `${c.outputFormat}: audible (RMS ${audio.rms.toFixed(4)})`);
      assert.ok((await details(server, task.taskUUID)).includes(String(item['audioUUID'])), 'recorded');
    }
    await assertNothingLeft(server);
  });

  speechTest(
    'numberResults gives distinct takes (seed, seed+1); base64Data and dataURI carry the same kind of file',
    async () => {
      const reply = await server.post([
        {
          taskType: 'audioInference',
          taskUUID: uuid(),
          model: 'runtrail:espeak-ng@1',
          speech: { text: 'One, two, three.', voice: 'Annie' },
          numberResults: 2,
          seed: 7,
          outputType: 'base64Data',
          outputFormat: 'WAV',
        },
      ]);
      assert.equal(reply.status, 200, reply.text);
      const [a, b] = reply.json.data!;
      assert.deepEqual([a!['seed'], b!['seed']], [7, 8]);
      assert.notEqual(a!['audioUUID'], b!['audioUUID']);
      assert.notEqual(a!['audioBase64Data'], b!['audioBase64Data'], 'the seed changes the pitch');
      const decoded = await decodeAudio(Buffer.from(String(a!['audioBase64Data']), 'base64'), 'wav');
      assert.ok(decoded.rms > 0.02);
      const uri = await server.post([
        {
          taskType: 'audioInference',
          taskUUID: uuid(),
          model: 'runtrail:espeak-ng@1',
          speech: { text: 'Data.' },
          outputType: 'dataURI',
        },
      ]);
      const text = String(uri.json.data![0]!['audioDataURI']);
      assert.match(text, /^data:audio\/mpeg;base64,/);
      assert.equal((await decodeAudio(Buffer.from(text.split(',')[1]!, 'base64'), 'mp3')).codec, 'mp3');
    },
  );

  test('procedural music and effects: the asked duration, stereo, audible, the same for the same seed and prompt', async () => {
    const music = (seed: number) => ({
      taskType: 'audioInference',
      taskUUID: uuid(),
      // runtrail's own AIR takes clips under Runware's 10 s minimum (docs/protocol.md).
      model: 'runtrail:procedural-audio@music-1',
      positivePrompt: 'calm piano',
      duration: 3,
      seed,
      outputFormat: 'WAV',
    });
    const [one, same, other] = await Promise.all([
      server.post([music(5)]),
      server.post([music(5)]),
      server.post([music(6)]),
    ]);
    const bytes = await Promise.all(
      [one, same, other].map((r) => fetchMedia(String(r.json.data![0]!['audioURL']), 'audio/wav')),
    );
    assert.ok(bytes[0]!.equals(bytes[1]!), 'deterministic from seed and prompt');
    assert.ok(!bytes[0]!.equals(bytes[2]!), 'another seed, another piece');
    const decoded = await decodeAudio(bytes[0]!, 'wav');
    assert.equal(decoded.channels, 2);
    assert.ok(Math.abs(decoded.seconds - 3) < 0.05, `${decoded.seconds} s`);
    assert.ok(decoded.rms > 0.05, `RMS ${decoded.rms}`);

    const fx = await server.post([
      {
        taskType: 'audioInference',
        taskUUID: uuid(),
        model: 'runtrail:procedural-audio@effects-1',
        positivePrompt: 'an explosion',
        duration: 2,
        outputFormat: 'OGG',
        audioSettings: { channels: 1 },
      },
    ]);
    assert.equal(fx.status, 200, fx.text);
    const effects = await decodeAudio(await fetchMedia(String(fx.json.data![0]!['audioURL']), 'audio/ogg'), 'ogg');
    assert.equal(effects.channels, 1);
    assert.ok(Math.abs(effects.seconds - 2) < 0.1, `${effects.seconds} s`);
    assert.ok(effects.rms > 0.01, `RMS ${effects.rms}`);

    const search = await server.post([{ taskType: 'modelSearch', taskUUID: uuid(), search: 'procedural', limit: 100 }]);
    const found = (search.json.data![0]!['results'] as Item[]).filter((r) =>
      String(r['air']).startsWith('runtrail:procedural-audio@'),
    );
    assert.equal(found.length, 2);
    assert.ok(
      found.every((r) => /procedural/.test(String(r['name'])) && /not a/.test(String(r['name']))),
      'named as procedural',
    );
  });

  speechTest('over WebSocket, sync and async', async () => {
    const ws = await RawClient.connect(server.url);
    try {
      await ws.authenticate(server.key);
      const taskUUID = uuid();
      ws.send([
        { taskType: 'audioInference', taskUUID, model: 'runtrail:espeak-ng@1', speech: { text: 'Over the socket.' } },
      ]);
      const frame = await ws.forTask(taskUUID, 60_000);
      const item = frame.json.data![0]!;
      assert.equal(item['taskType'], 'audioInference');
      assert.ok((await decodeAudio(await fetchMedia(String(item['audioURL']), 'audio/mpeg'), 'mp3')).rms > 0.02);

      const queued = uuid();
      ws.send([
        {
          taskType: 'audioInference',
          taskUUID: queued,
          model: 'runtrail:procedural-audio@music-1',
          positivePrompt: 'a march',
          duration: 2,
          deliveryMethod: 'async',
        },
      ]);
      assert.deepEqual((await ws.forTask(queued)).json.data, [{ taskType: 'audioInference', taskUUID: queued }]);
      const { items } = await finished(server, queued);
      assert.ok(
        (await decodeAudio(await fetchMedia(String(items[0]!['audioURL']), 'audio/mpeg'), 'mp3')).seconds > 1.9,
      );
      assert.deepEqual(ws.violations, []);
    } finally {
      await ws.close();
    }
  });

  speechTest('through @runware/sdk-js audioInference', async () => {
    const rw = (await RunwareServer.initialize({
      apiKey: server.key,
      url: `${server.url.replace(/^http/, 'ws')}/v1`,
      timeoutDuration: 60_000,
      globalMaxRetries: 1,
    })) as Sdk;
    try {
      const result = await rw.audioInference({
        model: 'minimax:speech@2.8',
        speech: { text: 'Hello from the SDK.', voice: 'en-us' },
        outputFormat: 'MP3',
        numberResults: 1,
      });
      const items = (Array.isArray(result) ? result : [result]) as unknown as Item[];
      assert.equal(items.length, 1);
      assert.equal(items[0]!['taskType'], 'audioInference');
      const decoded = await decodeAudio(await fetchMedia(String(items[0]!['audioURL']), 'audio/mpeg'), 'mp3');
      assert.ok(decoded.rms > 0.02 && decoded.seconds > 0.5);
    } finally {
      await rw.disconnect();
    }
  });

  test('bad input answers Runware codes, is recorded, and leaves nothing running', async () => {
    const base = { taskType: 'audioInference', model: 'runtrail:espeak-ng@1', speech: { text: 'fine' } };
    const cases: [Item, string, string][] = [
      [{ speech: { text: 'x'.repeat(4001) } }, 'invalidText', 'speech.text'],
      [{ speech: { text: '' } }, 'invalidText', 'speech.text'],
      [{ speech: undefined }, 'missingSpeech', 'speech'],
      [{ audioSettings: { sampleRate: 12345 } }, 'invalidSampleRate', 'audioSettings.sampleRate'],
      [{ audioSettings: { channels: 3 } }, 'invalidChannels', 'audioSettings.channels'],
      [{ audioSettings: { bitrate: 1000 } }, 'invalidBitrate', 'audioSettings.bitrate'],
      [{ outputFormat: 'AAC' }, 'invalidOutputFormat', 'outputFormat'],
      [{ numberResults: 4 }, 'invalidNumberResults', 'numberResults'],
      [{ model: 'nobody:1@1' }, 'unsupportedModel', 'model'],
      [
        { model: 'runware:ace-step@1', positivePrompt: 'music', duration: 301, speech: undefined },
        'invalidDuration',
        'duration',
      ],
      [{ model: 'runware:ace-step@1', positivePrompt: 'music', speech: undefined }, 'missingDuration', 'duration'],
      [{ model: 'runware:ace-step@1', duration: 10, speech: undefined }, 'missingPositivePrompt', 'positivePrompt'],
      [{ model: 'runware:ace-step@1', positivePrompt: 'music', duration: 10 }, 'unsupportedParameter', 'speech'],
      // Runware's music models take 10 s and up; runtrail's own take 1 s and up.
      [
        { model: 'runware:ace-step@1', positivePrompt: 'music', duration: 5, speech: undefined },
        'invalidDuration',
        'duration',
      ],
    ];
    if (haveEspeak)
      cases.push([
        { speech: { text: 'hello', voice: 'Ashley' }, numberResults: 2 },
        'unsupportedVoice',
        'speech.voice',
      ]);
    for (const [change, code, parameter] of cases) {
      const task = { ...base, taskUUID: uuid(), ...change };
      const reply = await server.post([task]);
      assert.equal(reply.status, 400, `${code}: ${reply.text}`);
      const error = onlyError(reply);
      assert.equal(error['code'], code, reply.text);
      assert.equal(error['parameter'], parameter, reply.text);
      assert.ok((await details(server, task.taskUUID)).includes(`"code":"${code}"`), `${code} is recorded`);
    }
    await assertNothingLeft(server);
  });
});

describe('videoInference', () => {
  test('async over REST: progress through getResponse, then an H.264 MP4 of the asked size and frame count', async () => {
    const taskUUID = uuid();
    const reply = await server.post([
      {
        taskType: 'videoInference',
        taskUUID,
        model: 'klingai:5@3',
        positivePrompt: 'waves at dusk',
        duration: 5,
        fps: 24,
        width: 640,
        height: 360,
        seed: 11,
      },
    ]);
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json.data, [{ taskType: 'videoInference', taskUUID }], 'acknowledged: async without asking');
    const { items, sawProgress } = await finished(server, taskUUID);
    assert.ok(sawProgress.length > 0, 'getResponse reported progress while it ran');
    assert.ok(sawProgress.every((p) => Number.isInteger(p) && p >= 0 && p <= 100));
    const item = items[0]!;
    assert.deepEqual(Object.keys(item), ['taskType', 'taskUUID', 'videoUUID', 'videoURL', 'seed', 'status']);
    assert.equal(item['seed'], 11);
    const bytes = await fetchMedia(String(item['videoURL']), 'video/mp4');
    const video = await decodeVideo(bytes, 'mp4');
    assert.deepEqual([video.codec, video.width, video.height, video.frames, video.fps], ['h264', 640, 360, 120, 24]);
    const frames = await videoFrames(bytes, 'mp4', 640, 360);
    assert.ok(frameDifference(frames[0]!, frames[119]!) > 10, 'the procedural picture changes over the video');
    assert.ok(
      frameDifference(frames[0]!, frames[1]!) < frameDifference(frames[0]!, frames[119]!),
      'and moves smoothly',
    );
    assert.ok((await details(server, taskUUID)).includes(String(item['videoUUID'])), 'recorded');
    await assertNothingLeft(server);
  });

  test('key images (first and last) cross-fade in WEBM; one image pans and zooms in MOV', async () => {
    const two = uuid();
    await server.post([
      {
        taskType: 'videoInference',
        taskUUID: two,
        model: 'runware:video@1',
        positivePrompt: 'from a portrait to a cup',
        duration: 2,
        fps: 15,
        width: 256,
        height: 256,
        outputFormat: 'WEBM',
        frameImages: [
          { inputImage: dataUri(PHOTO_A), frame: 'first' },
          { inputImage: dataUri(PHOTO_B), frame: 'last' },
        ],
        deliveryMethod: 'async',
      },
    ]);
    const webm = await fetchMedia(String((await finished(server, two)).items[0]!['videoURL']), 'video/webm');
    const v = await decodeVideo(webm, 'webm');
    assert.deepEqual([v.codec, v.width, v.height, v.frames], ['vp9', 256, 256, 30]);
    const frames = await videoFrames(webm, 'webm', 256, 256);
    const [first, middle, last] = [frames[0]!, frames[15]!, frames[29]!];
    assert.ok(frameDifference(first, last) > 15, 'two different pictures');
    // Half-way through the cross-fade the frame lies between the two.
    assert.ok(
      frameDifference(middle, first) < frameDifference(first, last) &&
        frameDifference(middle, last) < frameDifference(first, last),
    );
    // No cut: every step is a small part of the whole change.
    const whole = frameDifference(first, last);
    for (let i = 1; i < frames.length; i++) {
      const step = frameDifference(frames[i - 1]!, frames[i]!);
      assert.ok(step < whole / 3, `frame ${i} follows smoothly (${step.toFixed(1)} of ${whole.toFixed(1)})`);
    }

    const one = uuid();
    await server.post([
      {
        taskType: 'videoInference',
        taskUUID: one,
        model: 'klingai:5@3',
        positivePrompt: 'slow zoom',
        duration: 1,
        fps: 30,
        width: 320,
        height: 256,
        outputFormat: 'MOV',
        inputs: { image: dataUri(PHOTO_A) },
      },
    ]);
    const mov = await fetchMedia(String((await finished(server, one)).items[0]!['videoURL']), 'video/quicktime');
    const m = await decodeVideo(mov, 'mov');
    assert.deepEqual([m.codec, m.width, m.height, m.frames], ['h264', 320, 256, 30]);
    const movFrames = await videoFrames(mov, 'mov', 320, 256);
    assert.ok(frameDifference(movFrames[0]!, movFrames[29]!) > 2, 'the camera moves');
  });

  test('a sync videoInference is refused with invalidDeliveryMethod and recorded; bad ranges answer their codes', async () => {
    const sync = {
      taskType: 'videoInference',
      taskUUID: uuid(),
      model: 'klingai:5@3',
      positivePrompt: 'waves',
      duration: 2,
      deliveryMethod: 'sync',
    };
    const refused = await server.post([sync]);
    assert.equal(refused.status, 400);
    const error = onlyError(refused);
    assert.equal(error['code'], 'invalidDeliveryMethod');
    assert.equal(error['parameter'], 'deliveryMethod');
    assert.deepEqual(error['allowedValues'], ['async']);
    assert.ok((await details(server, sync.taskUUID)).includes('"code":"invalidDeliveryMethod"'));

    const base = {
      taskType: 'videoInference',
      model: 'klingai:5@3',
      positivePrompt: 'waves',
      duration: 2,
      deliveryMethod: 'async',
    };
    const cases: [Item, string, string][] = [
      [{ duration: 11 }, 'invalidDuration', 'duration'],
      [{ duration: 0.5 }, 'invalidDuration', 'duration'],
      [{ duration: undefined }, 'missingDuration', 'duration'],
      [{ fps: 10 }, 'invalidFps', 'fps'],
      [{ fps: 61 }, 'invalidFps', 'fps'],
      [{ width: 250 }, 'invalidWidth', 'width'],
      [{ width: 2000 }, 'invalidWidth', 'width'],
      [{ height: 1088 }, 'invalidHeight', 'height'],
      [{ outputFormat: 'GIF' }, 'invalidOutputFormat', 'outputFormat'],
      [{ positivePrompt: undefined }, 'missingPositivePrompt', 'positivePrompt'],
      [{ frameImages: [{ inputImage: dataUri(PHOTO_A), frame: 'middle' }] }, 'invalidFrame', 'frameImages.0.frame'],
    ];
    for (const [change, code, parameter] of cases) {
      const task = { ...base, taskUUID: uuid(), ...change };
      const reply = await server.post([task]);
      assert.equal(reply.status, 400, `${code}: ${reply.text}`);
      const e = onlyError(reply);
      assert.equal(e['code'], code, reply.text);
      assert.equal(e['parameter'], parameter, reply.text);
      assert.ok((await details(server, task.taskUUID)).includes(`"code":"${code}"`), `${code} is recorded`);
    }
    // An unreadable image is found when the queued task runs: its error comes through getResponse.
    const broken = uuid();
    await server.post([{ ...base, taskUUID: broken, frameImages: [{ inputImage: 'data:image/png;base64,AAAA' }] }]);
    const state = await pollUntil(
      () => getResponse(server, broken),
      (r) => (r.json.errors ?? []).length > 0,
      30_000,
    );
    assert.match(String(state.json.errors![0]!['code']), /^invalid/);
    await assertNothingLeft(server);
  });

  test('over WebSocket: the ACK, then getResponse on the same socket', async () => {
    const ws = await RawClient.connect(server.url);
    try {
      await ws.authenticate(server.key);
      const taskUUID = uuid();
      ws.send([
        {
          taskType: 'videoInference',
          taskUUID,
          model: 'klingai:5@3',
          positivePrompt: 'over the socket',
          duration: 1,
          fps: 15,
          width: 256,
          height: 256,
          deliveryMethod: 'async',
        },
      ]);
      assert.deepEqual((await ws.forTask(taskUUID)).json.data, [{ taskType: 'videoInference', taskUUID }]);
      let item: Item | undefined;
      for (let i = 0; i < 600 && !item; i++) {
        ws.send([{ taskType: 'getResponse', taskUUID }]);
        const frame = await ws.forTask(taskUUID);
        const got = frame.json.data?.[0];
        if (got?.['status'] === 'success') item = got;
        else await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(item, 'finished');
      const v = await decodeVideo(await fetchMedia(String(item['videoURL']), 'video/mp4'), 'mp4');
      assert.deepEqual([v.width, v.height, v.frames], [256, 256, 15]);
      assert.deepEqual(ws.violations, []);
    } finally {
      await ws.close();
    }
  });

  test('through @runware/sdk-js videoInference (it sends async and polls getResponse itself)', async () => {
    const rw = (await RunwareServer.initialize({
      apiKey: server.key,
      url: `${server.url.replace(/^http/, 'ws')}/v1`,
      timeoutDuration: 60_000,
      globalMaxRetries: 1,
    })) as Sdk;
    try {
      const result = await rw.videoInference({
        model: 'klingai:5@3',
        positivePrompt: 'the SDK makes a video',
        duration: 1,
        fps: 15,
        width: 256,
        height: 256,
        numberResults: 2,
        seed: 3,
      });
      const items = (Array.isArray(result) ? result : [result]) as unknown as Item[];
      assert.equal(items.length, 2);
      assert.deepEqual(items.map((i) => i['seed']).sort(), [3, 4]);
      for (const i of items) {
        const v = await decodeVideo(await fetchMedia(String(i['videoURL']), 'video/mp4'), 'mp4');
        assert.deepEqual([v.width, v.height, v.frames], [256, 256, 15]);
      }
    } finally {
      await rw.disconnect();
    }
  });

  test('a server stopped while encoding leaves no encoder process behind', async () => {
    const s = await startServer({ env: { RUNTRAIL_SHUTDOWN_GRACE_MS: '200' } });
    let seen: number[] = [];
    try {
      const taskUUID = uuid();
      await s.post([
        {
          taskType: 'videoInference',
          taskUUID,
          model: 'klingai:5@3',
          positivePrompt: 'long',
          duration: 10,
          fps: 60,
          width: 1920,
          height: 1080,
        },
      ]);
      // Only the encoder counts: a short-lived child (a probe) may come and go before it, and a
      // second listing could miss a process the first saw.
      seen = await pollUntil(
        () => Promise.resolve(childPids(s.process.pid!).filter((pid) => commandOf(pid).includes('ffmpeg'))),
        (pids) => pids.length > 0,
        60_000,
      );
    } finally {
      await s.stop();
    }
    assert.ok(seen.length > 0);
    await pollUntil(
      () => Promise.resolve(seen.filter(alive)),
      (left) => left.length === 0,
      20_000,
      100,
    );
  });
});

describe('without espeak-ng, with an ffmpeg on the PATH', () => {
  let bare: TestServer;
  let binDir: string;

  before(async () => {
    const f = ffmpeg();
    assert.ok(f.ok);
    binDir = mkdtempSync(join(tmpdir(), 'runtrail-bin-'));
    symlinkSync(f.path, join(binDir, 'ffmpeg'));
    bare = await startServer({ env: { PATH: binDir, RUNTRAIL_LOG_LEVEL: 'info' } });
  });

  after(async () => {
    await bare?.stop();
    rmSync(binDir, { recursive: true, force: true });
  });

  test('speech reports not ready at start and in /healthz/engines, and answers engineUnavailable; music still plays', async () => {
    const health = (await (await fetch(`${bare.url}/healthz/engines`)).json()) as {
      engines: { operations: { name: string; ready: boolean; reason?: string; detail?: string }[] }[];
    };
    const ops = health.engines[0]!.operations;
    const speech = ops.find((o) => o.name === 'synthesize-speech')!;
    assert.equal(speech.ready, false);
    assert.match(speech.reason!, /espeak-ng is not installed/);
    const video = ops.find((o) => o.name === 'encode-video')!;
    assert.equal(video.ready, true);
    assert.match(
      video.detail!,
      new RegExp(`\\(system, ${binDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/ffmpeg\\)`),
      'the ffmpeg on the PATH is preferred',
    );
    const log = bare.stdout() + bare.stderr();
    assert.match(log, /engine cannot run some operations/);
    assert.match(log, /espeak-ng is not installed/);
    assert.match(log, /"encode-video":"ffmpeg [^"]*\(system, /, 'the start log says which ffmpeg runs');

    const reply = await bare.post([
      {
        taskType: 'audioInference',
        taskUUID: uuid(),
        model: 'runtrail:espeak-ng@1',
        speech: { text: 'nobody speaks' },
      },
    ]);
    assert.equal(reply.status, 503, reply.text);
    assert.equal(onlyError(reply)['code'], 'engineUnavailable');
    assert.match(String(onlyError(reply)['message']), /espeak-ng/);

    const music = await bare.post([
      {
        taskType: 'audioInference',
        taskUUID: uuid(),
        model: 'runtrail:procedural-audio@music-1',
        positivePrompt: 'still here',
        duration: 1,
      },
    ]);
    assert.equal(music.status, 200, music.text);
    await assertNothingLeft(bare);
  });
});

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return String(pid);
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat); // a zombie has exited
  } catch {
    return false;
  }
}
