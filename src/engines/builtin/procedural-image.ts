// Deterministic procedural images: a plasma of sine waves whose frequencies, phases and palette
// come from a PRNG seeded by (seed, model, prompt). Same inputs, same pixels; any change in seed
// gives a different picture. This is not a diffusion model; it gives the ledger real images to
// record at CPU cost.

import { createHash } from 'node:crypto';

/** xorshift128+ over two 32-bit halves; small, fast and good enough for picking parameters. */
export function prng(seedBytes: Buffer): () => number {
  let a = seedBytes.readUInt32LE(0) | 1;
  let b = seedBytes.readUInt32LE(4) | 2;
  let c = seedBytes.readUInt32LE(8) | 4;
  let d = seedBytes.readUInt32LE(12) | 8;
  return () => {
    const t = b << 9;
    let r = a * 5;
    r = ((r << 7) | (r >>> 25)) * 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    return (r >>> 0) / 4294967296;
  };
}

export function renderPlasma(width: number, height: number, seed: bigint, model: string, prompt: string): Buffer {
  const digest = createHash('sha256').update(`${seed}\u0000${model}\u0000${prompt}`).digest();
  const rand = prng(digest);
  const freq = () => (0.5 + rand() * 6) * (2 * Math.PI);
  const fx = freq() / width;
  const fy = freq() / height;
  const fd = freq() / (width + height);
  const fr = freq() / Math.max(width, height);
  const px = rand() * 6.283;
  const py = rand() * 6.283;
  const pd = rand() * 6.283;
  const cx = rand() * width;
  const cy = rand() * height;
  const palette = [0, 1, 2].map(() => ({ phase: rand() * 6.283, scale: 0.6 + rand() * 2.4 }));

  // Separable terms are tabulated; only the radial term is computed per pixel.
  const tx = sineTable(width, fx, px);
  const ty = sineTable(height, fy, py);
  const td = sineTable(width + height, fd, pd);
  const lr = paletteTable(palette[0]!);
  const lg = paletteTable(palette[1]!);
  const lb = paletteTable(palette[2]!);

  const out = Buffer.allocUnsafe(width * height * 3);
  let o = 0;
  for (let y = 0; y < height; y++) {
    const dy = (y - cy) * (y - cy);
    const rowY = ty[y]!;
    for (let x = 0; x < width; x++) {
      const radial = Math.sin(Math.sqrt((x - cx) * (x - cx) + dy) * fr);
      const v = (tx[x]! + rowY + td[x + y]! + radial + 4) / 8; // 0..1
      const i = (v * (LUT_SIZE - 1)) | 0;
      out[o++] = lr[i]!;
      out[o++] = lg[i]!;
      out[o++] = lb[i]!;
    }
  }
  return out;
}

const LUT_SIZE = 256;

function sineTable(length: number, frequency: number, phase: number): Float64Array {
  const table = new Float64Array(length);
  for (let i = 0; i < length; i++) table[i] = Math.sin(i * frequency + phase);
  return table;
}

function paletteTable({ phase, scale }: { phase: number; scale: number }): Uint8Array {
  const table = new Uint8Array(LUT_SIZE);
  for (let i = 0; i < LUT_SIZE; i++)
    table[i] = Math.round(127.5 + 127.5 * Math.sin((i / (LUT_SIZE - 1)) * 4 * scale + phase));
  return table;
}
