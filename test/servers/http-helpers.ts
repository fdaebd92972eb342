// Small pieces both test engine servers use: reading a body, answering JSON, a hash of the input
// that the deterministic outputs are computed from.

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

export function digest(...parts: unknown[]): Buffer {
  return createHash('sha256').update(JSON.stringify(parts)).digest();
}

/** A colour computed from a digest, and its plain name (for assertions on captions and images). */
export function colourOf(hash: Buffer): { r: number; g: number; b: number } {
  return { r: hash[0]!, g: hash[1]!, b: hash[2]! };
}

export function colourName(r: number, g: number, b: number): string {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  if (max - min < 24) return max > 200 ? 'white' : max < 60 ? 'black' : 'grey';
  if (r === max) return g > b + 40 ? 'yellow' : b > g + 40 ? 'magenta' : 'red';
  if (g === max) return r > b + 40 ? 'yellow' : b > r + 40 ? 'cyan' : 'green';
  return r > g + 40 ? 'purple' : g > r + 40 ? 'cyan' : 'blue';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
