// Bytes on a bare TCP socket, for what fetch and the ws client refuse to send: malformed HTTP,
// bodies that trickle in or stall, and hand-made WebSocket frames (fragments, bad opcodes,
// unmasked or oversized frames) after a manual upgrade handshake.

import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

/** What came back on a raw HTTP connection. */
export interface RawHttpAnswer {
  /** Everything the server wrote, as latin1 text. */
  raw: string;
  /** The status of the first response, or 0 when nothing came. */
  status: number;
  headers: Record<string, string>;
  /** The body of the first response (by its Content-Length). */
  body: string;
  /** The server closed the connection (rather than our deadline ending it). */
  closedByServer: boolean;
  /** Milliseconds from the first byte sent to the first response byte (or the close). */
  answeredAfterMs: number;
}

/** One piece of a request: bytes, or a pause before the next piece. */
export type RawPiece = string | Buffer | { pauseMs: number };

/**
 * Writes `pieces` to a fresh connection to `port` and collects the answer until the server closes
 * the connection or `deadlineMs` passes (then we close it).
 */
export function rawHttp(port: number, pieces: readonly RawPiece[], deadlineMs = 5_000): Promise<RawHttpAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const started = Date.now();
    let firstByteAt = 0;
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      resolve({ ...parseResponse(raw), raw, closedByServer, answeredAfterMs: (firstByteAt || Date.now()) - started });
    };
    const deadline = setTimeout(() => finish(false), deadlineMs);
    socket.on('data', (d: Buffer) => {
      if (!firstByteAt) firstByteAt = Date.now();
      chunks.push(d);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    void (async () => {
      for (const piece of pieces) {
        if (done || socket.destroyed) return;
        if (typeof piece === 'object' && !Buffer.isBuffer(piece))
          await new Promise((r) => setTimeout(r, piece.pauseMs));
        else socket.write(piece);
      }
    })();
  });
}

/** `body` written one byte at a time, `everyMs` apart (after `head`, sent at once). */
export function trickle(head: string, body: string, everyMs: number): RawPiece[] {
  return [head, ...[...Buffer.from(body)].flatMap((byte) => [{ pauseMs: everyMs }, Buffer.from([byte])])];
}

function parseResponse(raw: string): Pick<RawHttpAnswer, 'status' | 'headers' | 'body'> {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: '' };
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? raw.length - end - 4);
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0),
    headers,
    body: raw.slice(end + 4, end + 4 + length),
  };
}

// ---- WebSocket frames -----------------------------------------------------------------------

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface FrameOptions {
  /** Last fragment of its message (default true). */
  fin?: boolean;
  /** Client frames must be masked (default true). */
  mask?: boolean;
  /** The three reserved bits (must be 0 without an extension). */
  rsv?: number;
  /** A payload length to declare instead of the real one. */
  declaredLength?: number;
}

/** One WebSocket frame as a client would write it (RFC 6455 §5.2). */
export function wsFrame(opcode: number, payload: string | Buffer, options: FrameOptions = {}): Buffer {
  const data = Buffer.from(payload);
  const length = options.declaredLength ?? data.length;
  let head: Buffer;
  if (length < 126) {
    head = Buffer.alloc(2);
    head[1] = length;
  } else if (length < 65536) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(length, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  head[0] = ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode;
  if (options.mask === false) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const key = randomBytes(4);
  for (let i = 0; i < data.length; i++) data[i]! ^= key[i % 4]!;
  return Buffer.concat([head, key, data]);
}

/** A frame the server sent: a message (text or binary), or a close with its code. */
export type ServerFrame = { opcode: number; text: string } | { opcode: typeof OPCODE.close; code: number | null };

/** A WebSocket opened by hand on a bare socket: write any bytes, read the server's frames. */
export class RawWebSocket {
  private buffer = Buffer.alloc(0);
  private readonly parsed: ServerFrame[] = [];
  private readonly waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.parse();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects to `<http base>/v1` and completes the upgrade handshake. */
  static async open(baseUrl: string): Promise<RawWebSocket> {
    const url = new URL(baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET /v1 HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`,
    );
    const head = await new Promise<string>((resolve, reject) => {
      let got = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        got = Buffer.concat([got, d]);
        const end = got.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        // Frames that came with the handshake answer go back to the stream for the parser.
        if (got.length > end + 4) socket.unshift(got.subarray(end + 4));
        resolve(got.subarray(0, end).toString('latin1'));
      };
      socket.on('data', onData);
      socket.once('close', () => reject(new Error('closed during the handshake')));
      setTimeout(() => reject(new Error('no handshake answer within 10 s')), 10_000).unref();
    });
    if (!head.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${head}`);
    return new RawWebSocket(socket);
  }

  write(...frames: Buffer[]): void {
    for (const f of frames) this.socket.write(f);
  }

  /** The next frame from the server, or `undefined` if the connection closed (or `timeoutMs` passed) first. */
  async next(timeoutMs = 10_000): Promise<ServerFrame | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.parsed.length === 0 && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.parsed.shift();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private parse(): void {
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + length) return;
      const opcode = b[0]! & 0x0f;
      const payload = b.subarray(offset, offset + length);
      this.parsed.push(
        opcode === OPCODE.close
          ? { opcode, code: payload.length >= 2 ? payload.readUInt16BE(0) : null }
          : { opcode, text: payload.toString('utf8') },
      );
      this.buffer = b.subarray(offset + length);
      this.wake();
    }
  }
}
