// Which ffmpeg the audio and video operations run, and what it can encode. The system's ffmpeg
// (on the PATH, e.g. Debian's package) is preferred: it gets security updates with the system.
// Without one, the static build inside the npm package @ffmpeg-installer/linux-x64 (an optional
// dependency, so `npm ci` installs it on Linux x64) is used. Found once per thread.

import { spawnSync } from 'node:child_process';
import { inPackage, onPath } from './program-lookup.js';

/** The encoders the operations use, by what they produce. */
export const REQUIRED_ENCODERS = {
  mp3: 'libmp3lame',
  ogg: 'libvorbis',
  flac: 'flac',
  wav: 'pcm_s16le',
  mp4: 'libx264',
  mov: 'libx264',
  webm: 'libvpx-vp9',
} as const;

export type EncodedKind = keyof typeof REQUIRED_ENCODERS;

export interface FfmpegFound {
  ok: true;
  path: string;
  source: 'system' | 'npm package @ffmpeg-installer/linux-x64';
  version: string;
  /** Output kinds whose encoder this build lacks. */
  missing: EncodedKind[];
}

export type FfmpegLookup = FfmpegFound | { ok: false; reason: string };

const PACKAGE = '@ffmpeg-installer/linux-x64';
let found: FfmpegLookup | undefined;

export function ffmpeg(): FfmpegLookup {
  found ??= lookup();
  return found;
}

/** One line for /healthz and the start log: which ffmpeg, and what it lacks. */
export function describeFfmpeg(f: FfmpegFound): string {
  const lacks = f.missing.length > 0 ? `; lacks encoders for ${f.missing.join(', ')}` : '';
  return `ffmpeg ${f.version} (${f.source}, ${f.path})${lacks}`;
}

function lookup(): FfmpegLookup {
  const candidates: [string | undefined, FfmpegFound['source']][] = [
    [onPath('ffmpeg'), 'system'],
    [inPackage(PACKAGE, 'ffmpeg'), `npm package ${PACKAGE}`],
  ];
  const problems: string[] = [];
  for (const [path, source] of candidates) {
    if (path === undefined) continue;
    const probe = spawnSync(path, ['-hide_banner', '-encoders'], {
      encoding: 'utf8',
      timeout: 15_000,
      maxBuffer: 4 << 20,
    });
    if (probe.status !== 0) {
      problems.push(`${path} did not run (${probe.error?.message ?? `exit ${String(probe.status ?? probe.signal)}`})`);
      continue;
    }
    const version = spawnSync(path, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 15_000 });
    const encoders = new Set(probe.stdout.split('\n').map((line) => line.trim().split(/\s+/)[1]));
    const missing = (Object.keys(REQUIRED_ENCODERS) as EncodedKind[]).filter(
      (k) => !encoders.has(REQUIRED_ENCODERS[k]),
    );
    const versionText = /ffmpeg version (\S+)/.exec(version.stdout)?.[1] ?? 'of unknown version';
    return { ok: true, path, source, version: versionText, missing };
  }
  const tried = problems.length > 0 ? ` (${problems.join('; ')})` : '';
  return {
    ok: false,
    reason: `no ffmpeg found: none on the PATH and the npm package ${PACKAGE} is not installed${tried}`,
  };
}
