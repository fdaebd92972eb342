// Timing comparison for "no answer reveals more than not-found" tests: two kinds of request are
// sent one at a time, in pairs whose order a seeded generator picks, and their medians compared
// against a bound wide enough for a loaded 2-core machine (the rationale is in
// test/isolation-timing.test.ts and docs/performance.md).

import { performance } from 'node:perf_hooks';

/** A seeded generator (mulberry32): the same interleaving on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A canonical UUID (version 4 layout) drawn from `random`. */
export function seededUuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = '89ab'[Math.floor(random() * 4)]!;
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface TimingSamples {
  /** Milliseconds per request of the first kind (e.g. an unknown UUID). */
  a: number[];
  /** Milliseconds per request of the second kind (e.g. another organization's UUID). */
  b: number[];
}

/**
 * Runs `warmup` pairs untimed, then `pairs` timed pairs; each pair sends one request of each kind,
 * in an order `random` picks, so drift in the machine's load falls on both kinds alike.
 */
export async function interleaved(
  kinds: { a: (i: number) => Promise<unknown>; b: (i: number) => Promise<unknown> },
  options: { pairs: number; warmup: number; random: () => number },
): Promise<TimingSamples> {
  const out: TimingSamples = { a: [], b: [] };
  for (let i = 0; i < options.warmup + options.pairs; i++) {
    const order: ('a' | 'b')[] = options.random() < 0.5 ? ['a', 'b'] : ['b', 'a'];
    for (const kind of order) {
      const started = performance.now();
      await kinds[kind](i);
      const ms = performance.now() - started;
      if (i >= options.warmup) out[kind].push(ms);
    }
  }
  return out;
}

export interface TimingVerdict {
  medianA: number;
  medianB: number;
  /** medianB - medianA, in ms. */
  difference: number;
  /** Standard error of that difference, from resampling the pairs (bootstrap). */
  standardError: number;
  /** The largest |difference| taken for noise: max(floorMs, share × the smaller median, 5 standard errors). */
  bound: number;
  withinNoise: boolean;
  summary: string;
}

export interface TimingBound {
  /** Never flag less than this (default 0.1 ms). */
  floorMs?: number;
  /** Never flag less than this share of the smaller median (default 10 %). */
  share?: number;
  /** Never flag less than this many standard errors of the difference (default 5). */
  errors?: number;
}

export function timingVerdict(samples: TimingSamples, options: TimingBound = {}): TimingVerdict {
  const medianA = median(samples.a);
  const medianB = median(samples.b);
  const difference = medianB - medianA;
  const standardError = bootstrapError(samples);
  const bound = Math.max(
    options.floorMs ?? 0.1,
    (options.share ?? 0.1) * Math.min(medianA, medianB),
    (options.errors ?? 5) * standardError,
  );
  const withinNoise = Math.abs(difference) <= bound;
  const f = (n: number) => n.toFixed(3);
  const summary =
    `median ${f(medianA)} ms vs ${f(medianB)} ms over ${samples.a.length}+${samples.b.length} requests: ` +
    `difference ${f(difference)} ms (standard error ${f(standardError)}), bound ${f(bound)} ms`;
  return { medianA, medianB, difference, standardError, bound, withinNoise, summary };
}

/** The spread of medianB − medianA over 200 resamplings of the pairs (fixed seed). */
function bootstrapError(samples: TimingSamples): number {
  const random = seededRandom(1);
  const n = Math.min(samples.a.length, samples.b.length);
  const differences: number[] = [];
  for (let r = 0; r < 200; r++) {
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = Math.floor(random() * n);
      a.push(samples.a[k]!);
      b.push(samples.b[k]!);
    }
    differences.push(median(b) - median(a));
  }
  const mean = differences.reduce((s, d) => s + d, 0) / differences.length;
  return Math.sqrt(differences.reduce((s, d) => s + (d - mean) ** 2, 0) / (differences.length - 1));
}

/**
 * Measures up to twice: passes when a round is within noise; fails only when both rounds exceed the
 * bound in the same direction (a real difference is there every time; a burst of load is not).
 */
export async function compareTimings(
  measure: () => Promise<TimingSamples>,
  report: (line: string) => void,
  options: TimingBound = {},
): Promise<TimingVerdict> {
  const first = timingVerdict(await measure(), options);
  report(`round 1: ${first.summary}`);
  if (first.withinNoise) return first;
  const second = timingVerdict(await measure(), options);
  report(`round 2: ${second.summary}`);
  if (second.withinNoise || Math.sign(second.difference) !== Math.sign(first.difference))
    return { ...second, withinNoise: true };
  return second;
}
