// Procedural sound: deterministic stereo PCM drawn from (seed, model, prompt, negativePrompt) by
// a PRNG, like the procedural pictures. "music" is a small synthesizer playing a chord
// progression with bass, melody, kick and hi-hat at a seeded tempo and key; "effects" is a
// sequence of synthesized events (whooshes, impacts, chirps, rumbles). No model, no samples:
// it gives audioInference real, audible sound at CPU cost, and says so wherever it is listed.

import { createHash } from 'node:crypto';
import { prng } from '../procedural-image.js';

export type SoundKind = 'music' | 'effects';

export interface SoundRequest {
  kind: SoundKind;
  seconds: number;
  sampleRate: number;
  seed: bigint;
  model: string;
  prompt: string;
  negativePrompt: string;
}

/** Interleaved stereo 16-bit samples, peak-normalized, with short fades at both ends. */
export function renderSound(r: SoundRequest, progress?: (fraction: number) => void): Int16Array {
  const n = Math.max(1, Math.round(r.seconds * r.sampleRate));
  const left = new Float32Array(n);
  const right = new Float32Array(n);
  const rand = prng(
    createHash('sha256').update(`${r.seed}\u0000${r.model}\u0000${r.prompt}\u0000${r.negativePrompt}`).digest(),
  );
  const mix = { left, right, rate: r.sampleRate, rand };
  if (r.kind === 'music') playMusic(mix, progress);
  else playEffects(mix, r.prompt.toLowerCase(), progress);
  return toPcm(left, right, r.sampleRate);
}

interface Mix {
  left: Float32Array;
  right: Float32Array;
  rate: number;
  rand: () => number;
}

const MAJOR = [0, 2, 4, 5, 7, 9, 11];
const MINOR = [0, 2, 3, 5, 7, 8, 10];
const PROGRESSIONS = [
  [0, 4, 5, 3],
  [0, 5, 3, 4],
  [5, 3, 0, 4],
  [0, 3, 4, 4],
  [0, 2, 3, 4],
];

function playMusic(m: Mix, progress?: (fraction: number) => void): void {
  const { rand } = m;
  const bpm = 72 + Math.floor(rand() * 64);
  const beat = 60 / bpm;
  const root = 45 + Math.floor(rand() * 12); // A2 … G#3
  const scale = rand() < 0.5 ? MAJOR : MINOR;
  const progression = PROGRESSIONS[Math.floor(rand() * PROGRESSIONS.length)]!;
  const brightness = 1 + Math.floor(rand() * 4); // harmonics in the lead
  const total = m.left.length / m.rate;
  const bars = Math.ceil(total / (4 * beat));
  let melodyStep = Math.floor(rand() * 7);
  const note = (degree: number, octave: number) => {
    const d = ((degree % 7) + 7) % 7;
    const up = Math.floor(degree / 7);
    return midiHz(root + 12 * (octave + up) + scale[d]!);
  };
  for (let bar = 0; bar < bars; bar++) {
    const start = bar * 4 * beat;
    const chord = progression[bar % progression.length]!;
    // Pad: the chord's triad, slightly detuned left and right, held for the bar.
    for (const step of [0, 2, 4])
      tone(m, start, 4 * beat, note(chord + step, 1), {
        gain: 0.07,
        harmonics: 2,
        attack: 0.3,
        release: 0.4,
        detune: 0.003,
        pan: 0,
      });
    // Bass on every beat.
    for (let b = 0; b < 4; b++)
      tone(m, start + b * beat, beat * 0.9, note(chord, 0), {
        gain: 0.16,
        harmonics: 3,
        attack: 0.01,
        release: 0.1,
        detune: 0,
        pan: 0,
      });
    // Melody: eighth notes on a random walk through the scale, with rests.
    for (let e = 0; e < 8; e++) {
      melodyStep += Math.floor(rand() * 5) - 2;
      melodyStep = Math.max(-3, Math.min(10, melodyStep));
      if (rand() < 0.7)
        tone(m, start + (e * beat) / 2, beat * 0.45, note(chord + melodyStep, 2), {
          gain: 0.1,
          harmonics: brightness,
          attack: 0.005,
          release: 0.08,
          detune: 0,
          pan: 0.3,
        });
    }
    for (let b = 0; b < 4; b += 2) kick(m, start + b * beat);
    for (let e = 0; e < 8; e++) hat(m, start + (e * beat) / 2, e % 2 === 0 ? 0.05 : 0.03);
    progress?.((bar + 1) / bars);
  }
}

const EFFECT_WORDS: [RegExp, number][] = [
  [/whoosh|wind|swish|swoosh|air/, 0],
  [/impact|hit|explo|boom|crash|thud|punch/, 1],
  [/beep|laser|chirp|bird|zap|alarm|blip/, 2],
  [/rumble|thunder|engine|earthquake|drone/, 3],
];

function playEffects(m: Mix, prompt: string, progress?: (fraction: number) => void): void {
  const { rand } = m;
  const total = m.left.length / m.rate;
  const favoured = EFFECT_WORDS.find(([re]) => re.test(prompt))?.[1];
  let t = rand() * 0.2;
  while (t < total) {
    const kind = favoured !== undefined && rand() < 0.7 ? favoured : Math.floor(rand() * 4);
    const length = 0.3 + rand() * 1.7;
    const pan = rand() * 1.6 - 0.8;
    if (kind === 0) whoosh(m, t, length, pan);
    else if (kind === 1) impact(m, t, pan);
    else if (kind === 2) chirp(m, t, length * 0.5, 300 + rand() * 2500, 300 + rand() * 2500, pan);
    else rumble(m, t, length * 1.5, pan);
    t += 0.25 + rand() * 1.2;
    progress?.(Math.min(1, t / total));
  }
}

interface ToneShape {
  gain: number;
  harmonics: number;
  attack: number;
  release: number;
  detune: number;
  pan: number;
}

function tone(m: Mix, at: number, length: number, hz: number, s: ToneShape): void {
  const from = Math.floor(at * m.rate);
  const to = Math.min(m.left.length, Math.floor((at + length + s.release) * m.rate));
  const [gl, gr] = panGains(s.pan);
  for (let i = Math.max(0, from); i < to; i++) {
    const t = (i - from) / m.rate;
    const env = t < s.attack ? t / s.attack : t < length ? 1 : Math.max(0, 1 - (t - length) / s.release);
    let l = 0;
    let r = 0;
    for (let h = 1; h <= s.harmonics; h++) {
      l += Math.sin(2 * Math.PI * hz * h * (1 - s.detune) * t) / h;
      r += Math.sin(2 * Math.PI * hz * h * (1 + s.detune) * t) / h;
    }
    m.left[i]! += l * env * s.gain * gl;
    m.right[i]! += r * env * s.gain * gr;
  }
}

function kick(m: Mix, at: number): void {
  const from = Math.floor(at * m.rate);
  const to = Math.min(m.left.length, from + Math.floor(0.25 * m.rate));
  let phase = 0;
  for (let i = Math.max(0, from); i < to; i++) {
    const t = (i - from) / m.rate;
    phase += (2 * Math.PI * (45 + 110 * Math.exp(-t * 30))) / m.rate;
    const v = Math.sin(phase) * Math.exp(-t * 14) * 0.35;
    m.left[i]! += v;
    m.right[i]! += v;
  }
}

function hat(m: Mix, at: number, gain: number): void {
  const from = Math.floor(at * m.rate);
  const to = Math.min(m.left.length, from + Math.floor(0.05 * m.rate));
  let previous = 0;
  for (let i = Math.max(0, from); i < to; i++) {
    const t = (i - from) / m.rate;
    const noise = m.rand() * 2 - 1;
    const v = (noise - previous) * Math.exp(-t * 90) * gain; // differenced noise: a crude high-pass
    previous = noise;
    m.left[i]! += v;
    m.right[i]! += v;
  }
}

function whoosh(m: Mix, at: number, length: number, pan: number): void {
  const from = Math.floor(at * m.rate);
  const to = Math.min(m.left.length, from + Math.floor(length * m.rate));
  const [gl, gr] = panGains(pan);
  let low = 0;
  for (let i = Math.max(0, from); i < to; i++) {
    const u = (i - from) / (to - from);
    const cutoff = 0.02 + 0.25 * Math.sin(Math.PI * u); // one-pole low-pass opening and closing
    low += cutoff * (m.rand() * 2 - 1 - low);
    const v = low * Math.sin(Math.PI * u) * 0.8;
    m.left[i]! += v * gl;
    m.right[i]! += v * gr;
  }
}

function impact(m: Mix, at: number, pan: number): void {
  const from = Math.floor(at * m.rate);
  const to = Math.min(m.left.length, from + Math.floor(0.9 * m.rate));
  const [gl, gr] = panGains(pan);
  let phase = 0;
  for (let i = Math.max(0, from); i < to; i++) {
    const t = (i - from) / m.rate;
    phase += (2 * Math.PI * (40 + 90 * Math.exp(-t * 8))) / m.rate;
    const body = Math.sin(phase) * Math.exp(-t * 5) * 0.5;
    const crack = (m.rand() * 2 - 1) * Math.exp(-t * 40) * 0.4;
    m.left[i]! += (body + crack) * gl;
    m.right[i]! += (body + crack) * gr;
  }
}

function chirp(m: Mix, at: number, length: number, fromHz: number, toHz: number, pan: number): void {
  const from = Math.floor(at * m.rate);
  const to = Math.min(m.left.length, from + Math.floor(length * m.rate));
  const [gl, gr] = panGains(pan);
  let phase = 0;
  for (let i = Math.max(0, from); i < to; i++) {
    const u = (i - from) / Math.max(1, to - from);
    phase += (2 * Math.PI * (fromHz + (toHz - fromHz) * u)) / m.rate;
    const v = Math.sin(phase) * Math.sin(Math.PI * u) * 0.25;
    m.left[i]! += v * gl;
    m.right[i]! += v * gr;
  }
}

function rumble(m: Mix, at: number, length: number, pan: number): void {
  const from = Math.floor(at * m.rate);
  const to = Math.min(m.left.length, from + Math.floor(length * m.rate));
  const [gl, gr] = panGains(pan);
  let low = 0;
  for (let i = Math.max(0, from); i < to; i++) {
    const u = (i - from) / Math.max(1, to - from);
    low += 0.01 * (m.rand() * 2 - 1 - low);
    const v = low * 6 * Math.sin(Math.PI * u);
    m.left[i]! += v * gl;
    m.right[i]! += v * gr;
  }
}

function panGains(pan: number): [number, number] {
  const angle = ((pan + 1) * Math.PI) / 4;
  return [Math.cos(angle) * Math.SQRT2, Math.sin(angle) * Math.SQRT2];
}

function midiHz(note: number): number {
  return 440 * 2 ** ((note - 69) / 12);
}

function toPcm(left: Float32Array, right: Float32Array, rate: number): Int16Array {
  let peak = 1e-9;
  for (let i = 0; i < left.length; i++) peak = Math.max(peak, Math.abs(left[i]!), Math.abs(right[i]!));
  const scale = (0.8 / peak) * 32767;
  const fade = Math.min(Math.floor(0.05 * rate), Math.floor(left.length / 4));
  const out = new Int16Array(left.length * 2);
  for (let i = 0; i < left.length; i++) {
    const edge = fade > 0 ? Math.min(1, i / fade, (left.length - 1 - i) / fade) : 1;
    out[2 * i] = Math.round(left[i]! * scale * edge);
    out[2 * i + 1] = Math.round(right[i]! * scale * edge);
  }
  return out;
}
