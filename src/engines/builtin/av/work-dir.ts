// A private temporary folder for one operation's files (what espeak-ng writes, what ffmpeg
// encodes into: MP4 and WAV headers need a seekable file, not a pipe), removed afterwards
// whatever happened.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function withWorkDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'runtrail-av-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
