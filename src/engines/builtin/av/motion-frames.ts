// The frames of videoInference's animation: each key image is held at its frame and drifts away
// from it (a slow zoom and pan, "Ken Burns"), and consecutive key images cross-fade between their
// frames. Each image is first scaled to cover 1.25× the video's size so that the camera can move
// inside it; frames are then sampled bilinearly at sub-pixel positions, which keeps slow motion
// smooth (whole-pixel crops would judder).

import { createHash } from 'node:crypto';
import { prng } from '../procedural-image.js';

/** How much larger than the frame each key image is prepared, so the camera can move inside it. */
export const COVER = 1.25;
/** The tightest framing, as a fraction of the prepared image (at 1/COVER a source pixel is a frame pixel). */
const TIGHTEST = 1 / COVER;

export interface KeyImage {
  /** RGB pixels, `width`×`height` (COVER times the frame size, rounded). */
  pixels: Uint8Array;
  width: number;
  height: number;
  /** The frame (0-based) where this image is shown whole. */
  at: number;
}

interface Drift {
  /** Window centre (fractions of the image) the camera drifts to, and whether it zooms in fully. */
  toX: number;
  toY: number;
  zoomIn: boolean;
}

export class MotionFrames {
  private readonly drifts: Drift[];
  private readonly a: Uint8Array;
  private readonly b: Uint8Array;

  constructor(
    private readonly keys: readonly KeyImage[],
    private readonly width: number,
    private readonly height: number,
    private readonly count: number,
    seed: string,
  ) {
    const rand = prng(createHash('sha256').update(`motion\u0000${seed}`).digest());
    this.drifts = keys.map(() => ({ toX: 0.2 + rand() * 0.6, toY: 0.2 + rand() * 0.6, zoomIn: rand() < 0.75 }));
    this.a = new Uint8Array(width * height * 3);
    this.b = new Uint8Array(width * height * 3);
  }

  /** Frame `f` (0-based) as RGB bytes; the returned buffer is reused by the next call. */
  frame(f: number): Uint8Array {
    const keys = this.keys;
    let next = keys.findIndex((k) => k.at > f);
    if (next === -1) next = keys.length;
    const before = Math.max(0, next - 1);
    if (next === 0 || next === keys.length) {
      this.view(next === 0 ? 0 : keys.length - 1, f, this.a);
      return this.a;
    }
    // Between two key frames: hold the first for a quarter of the gap, cross-fade over the middle half.
    const from = keys[before]!.at;
    const to = keys[next]!.at;
    const t = (f - from) / Math.max(1, to - from);
    const mix = smoothstep((t - 0.25) / 0.5);
    if (mix <= 0) this.view(before, f, this.a);
    else if (mix >= 1) this.view(next, f, this.a);
    else {
      this.view(before, f, this.a);
      this.view(next, f, this.b);
      const w = Math.round(mix * 256);
      const out = this.a;
      for (let i = 0; i < out.length; i++) out[i] = (out[i]! * (256 - w) + this.b[i]! * w + 128) >> 8;
    }
    return this.a;
  }

  /** Key image `k` as the camera sees it at frame `f`: whole at its own frame, drifting away with distance. */
  private view(k: number, f: number, out: Uint8Array): void {
    const key = this.keys[k]!;
    const drift = this.drifts[k]!;
    const d = Math.min(1, Math.abs(f - key.at) / Math.max(1, this.count - 1));
    const e = smoothstep(d);
    // A zoom towards a point, or (one time in four) a gentler zoom that is mostly a pan.
    const windowW = key.width * (1 - (1 - TIGHTEST) * e * (drift.zoomIn ? 1 : 0.6));
    const windowH = windowW * (this.height / this.width);
    const cx = lerp(0.5, drift.toX, e) * key.width;
    const cy = lerp(0.5, drift.toY, e) * key.height;
    const left = clamp(cx - windowW / 2, 0, key.width - windowW);
    const top = clamp(cy - windowH / 2, 0, key.height - windowH);
    sample(key, left, top, windowW / this.width, windowH / this.height, this.width, this.height, out);
  }
}

/** Bilinear resampling of a window of `key` (origin left/top, `step` source pixels per frame pixel) into `out`. */
function sample(
  key: KeyImage,
  left: number,
  top: number,
  stepX: number,
  stepY: number,
  width: number,
  height: number,
  out: Uint8Array,
): void {
  const src = key.pixels;
  const sw = key.width;
  const maxX = sw - 1;
  const maxY = key.height - 1;
  const xs0 = new Int32Array(width);
  const xs1 = new Int32Array(width);
  const fx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const sx = clamp(left + (x + 0.5) * stepX - 0.5, 0, maxX);
    const x0 = Math.floor(sx);
    xs0[x] = x0 * 3;
    xs1[x] = Math.min(maxX, x0 + 1) * 3;
    fx[x] = sx - x0;
  }
  let o = 0;
  for (let y = 0; y < height; y++) {
    const sy = clamp(top + (y + 0.5) * stepY - 0.5, 0, maxY);
    const y0 = Math.floor(sy);
    const wy = sy - y0;
    const row0 = y0 * sw * 3;
    const row1 = Math.min(maxY, y0 + 1) * sw * 3;
    for (let x = 0; x < width; x++) {
      const wx = fx[x]!;
      const a0 = row0 + xs0[x]!;
      const a1 = row0 + xs1[x]!;
      const b0 = row1 + xs0[x]!;
      const b1 = row1 + xs1[x]!;
      for (let c = 0; c < 3; c++) {
        const top_ = src[a0 + c]! + (src[a1 + c]! - src[a0 + c]!) * wx;
        const bottom = src[b0 + c]! + (src[b1 + c]! - src[b0 + c]!) * wx;
        out[o++] = top_ + (bottom - top_) * wy + 0.5;
      }
    }
  }
}

function smoothstep(x: number): number {
  const t = clamp(x, 0, 1);
  return t * t * (3 - 2 * t);
}

function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
