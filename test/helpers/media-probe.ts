// Decodes produced audio and video with ffmpeg, so tests check what a player would get: the
// container and codec ffmpeg reads, sample rate, channels, duration and loudness of sound, frame
// size and the number of frames of video. Also counts a process's live child processes (Linux
// /proc), for tests that no encoder is left running.

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ffmpeg } from '../../src/engines/builtin/av/ffmpeg-binary.js';

const run = promisify(execFile);
const DECODE_RATE = 16000;

function ffmpegPath(): string {
  const f = ffmpeg();
  if (!f.ok) throw new Error(f.reason);
  return f.path;
}

export interface DecodedAudio {
  codec: string;
  sampleRate: number;
  channels: number;
  seconds: number;
  /** Root mean square of the mono mix, 0 … 1 of full scale. */
  rms: number;
}

export interface DecodedVideo {
  codec: string;
  width: number;
  height: number;
  frames: number;
  fps: number;
}

async function withFile<T>(bytes: Buffer, ext: string, work: (file: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'runtrail-probe-'));
  try {
    const file = join(dir, `in.${ext}`);
    writeFileSync(file, bytes);
    return await work(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function decodeAudio(bytes: Buffer, ext: string): Promise<DecodedAudio> {
  return withFile(bytes, ext, async (file) => {
    const out = join(file, '..', 'pcm.raw');
    const { stderr } = await run(ffmpegPath(), [
      '-hide_banner',
      '-nostats',
      '-i',
      file,
      '-f',
      's16le',
      '-ac',
      '1',
      '-ar',
      String(DECODE_RATE),
      '-y',
      out,
    ]);
    const stream = /Stream #0:0[^:]*: Audio: (\w+)[^,]*, (\d+) Hz, (mono|stereo)/.exec(stderr);
    if (!stream) throw new Error(`no audio stream: ${stderr}`);
    const pcm = readFileSync(out);
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 2));
    let sum = 0;
    for (const s of samples) sum += (s / 32768) ** 2;
    return {
      codec: stream[1]!,
      sampleRate: Number(stream[2]),
      channels: stream[3] === 'stereo' ? 2 : 1,
      seconds: samples.length / DECODE_RATE,
      rms: Math.sqrt(sum / Math.max(1, samples.length)),
    };
  });
}

export function decodeVideo(bytes: Buffer, ext: string): Promise<DecodedVideo> {
  return withFile(bytes, ext, async (file) => {
    const out = join(file, '..', 'frames.raw');
    const { stderr } = await run(
      ffmpegPath(),
      ['-hide_banner', '-nostats', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-y', out],
      { maxBuffer: 1 << 20 },
    );
    const stream = /Stream #0:0[^:]*: Video: (\w+).*?, (\d+)x(\d+)[^,]*,.*?([\d.]+) fps/.exec(stderr);
    if (!stream) throw new Error(`no video stream: ${stderr}`);
    const width = Number(stream[2]);
    const height = Number(stream[3]);
    const size = readFileSync(out).length;
    return { codec: stream[1]!, width, height, frames: size / (width * height), fps: Number(stream[4]) };
  });
}

/** The first `count` decoded frames of a video as grey levels, each `width*height` bytes. */
export function videoFrames(bytes: Buffer, ext: string, width: number, height: number): Promise<Buffer[]> {
  return withFile(bytes, ext, async (file) => {
    const out = join(file, '..', 'frames.raw');
    await run(ffmpegPath(), [
      '-hide_banner',
      '-loglevel',
      'error',
      '-i',
      file,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'gray',
      '-y',
      out,
    ]);
    const all = readFileSync(out);
    const frames: Buffer[] = [];
    for (let o = 0; o + width * height <= all.length; o += width * height)
      frames.push(all.subarray(o, o + width * height));
    return frames;
  });
}

/** Mean absolute difference of two grey frames, 0 … 255. */
export function frameDifference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

/** PIDs of the live children of process `pid` (all its threads'), from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text !== '') out.push(...text.split(/\s+/).map(Number));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}
