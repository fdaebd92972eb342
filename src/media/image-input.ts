// Turns an image input parameter into image bytes. The protocol accepts four forms: the UUID
// of an image this organization uploaded or produced, a data URI, raw base64, or a URL (only on
// the outbound allow-list, or a media URL of this server).

import sharp from 'sharp';
import { timingSafeEqual } from 'node:crypto';
import { ProtocolError, invalidCode } from '../protocol/errors.js';
import { looksLikeUuid } from '../protocol/uuid.js';
import type { MediaRecord, TaskLedger } from '../ledger/types.js';
import type { MediaStore } from './media-store.js';
import type { OutboundPolicy } from './outbound-policy.js';

export interface DecodedImage {
  data: Buffer;
  width: number;
  height: number;
  format: string;
}

const DATA_URI = /^data:image\/[a-zA-Z0-9.+-]+;base64,/;
const BASE64 = /^[A-Za-z0-9+/\r\n]+={0,2}$/;
const FETCH_TIMEOUT_MS = 15_000;

/**
 * The body of a response, read as it streams in and abandoned as soon as it passes `maxBytes`:
 * a body without a Content-Length (chunked, or a lying header) must never be held whole first.
 */
async function readAtMost(res: Response, maxBytes: number): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`it is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** The four forms a media input may take, as the protocol lists them. */
export type MediaForm = 'uuid' | 'dataURI' | 'url' | 'base64';

/** Which form a media input value has, or null for none (checked before a task is accepted). */
export function mediaFormOf(value: string): MediaForm | null {
  if (looksLikeUuid(value)) return 'uuid';
  if (DATA_URI.test(value)) return 'dataURI';
  if (/^https?:\/\//i.test(value)) return 'url';
  if (value.length >= 16 && BASE64.test(value)) return 'base64';
  return null;
}

export const MEDIA_FORMS = 'Expected the UUID of an uploaded or generated image, a data URI, base64 data or a URL.';

/**
 * The error for a media input, named after its parameter: the last segment that is not an array
 * index (`inputs.referenceImages.2` → invalidReferenceImages, `controlNet.0.guideImage` →
 * invalidGuideImage); an `image` member of an array element takes the array's name.
 */
export function mediaInputError(parameter: string, why: string): ProtocolError {
  const segments = parameter.split('.');
  const named = segments.filter((s) => !/^\d+$/.test(s));
  let name = named[named.length - 1] ?? parameter;
  const inArrayElement = segments.length >= 3 && /^\d+$/.test(segments[segments.length - 2] ?? '');
  if (name === 'image' && inArrayElement) name = named[named.length - 2] ?? name;
  return new ProtocolError(
    invalidCode(name),
    { parameter, reason: why },
    {
      parameter,
      type: 'string',
    },
  );
}

export class ImageInputResolver {
  constructor(
    private readonly ledger: TaskLedger,
    private readonly media: MediaStore,
    private readonly outbound: OutboundPolicy,
    private readonly maxBytes: number,
  ) {}

  /**
   * Checks, without reading any bytes, that a media input naming this server's media (a UUID, or
   * a media URL of this server) names media of the organization: run when a task is accepted, so
   * that a task naming unknown or another organization's media is refused before it is queued.
   * Other forms are left to `resolve` (a URL is fetched only when the task runs).
   */
  async checkOwned(orgId: string, parameter: string, value: string): Promise<void> {
    const form = mediaFormOf(value);
    if (form === 'uuid') await this.ownedByUuid(orgId, parameter, value);
    else if (form === 'url') {
      const own = this.media.parseOwnUrl(value);
      if (own) await this.ownedByUrl(orgId, parameter, own);
    }
  }

  private async ownedByUuid(orgId: string, parameter: string, value: string): Promise<MediaRecord> {
    const record = await this.ledger.findMedia(orgId, value);
    if (!record) throw mediaInputError(parameter, 'No image with this UUID exists in your organization.');
    return record;
  }

  private async ownedByUrl(
    orgId: string,
    parameter: string,
    own: { mediaUUID: string; accessToken: string },
  ): Promise<MediaRecord> {
    const record = await this.ledger.findMedia(orgId, own.mediaUUID);
    const token = Buffer.from(own.accessToken);
    if (
      !record ||
      token.length !== record.accessToken.length ||
      !timingSafeEqual(token, Buffer.from(record.accessToken))
    ) {
      throw mediaInputError(parameter, 'No image exists at this URL for your organization.');
    }
    return record;
  }

  async resolve(orgId: string, parameter: string, value: string): Promise<DecodedImage> {
    const fail = (why: string) => mediaInputError(parameter, why);
    let bytes: Buffer;
    const form = mediaFormOf(value);
    if (form === 'uuid') {
      bytes = await this.media.read(await this.ownedByUuid(orgId, parameter, value));
    } else if (form === 'dataURI') {
      bytes = Buffer.from(value.slice(value.indexOf(',') + 1), 'base64');
    } else if (form === 'url') {
      bytes = await this.fetchUrl(orgId, parameter, value, fail);
    } else if (form === 'base64') {
      bytes = Buffer.from(value, 'base64');
    } else {
      throw fail(MEDIA_FORMS);
    }
    try {
      const meta = await sharp(bytes).metadata();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- sharp's typings say set; a damaged header leaves them out
      if (!meta.width || !meta.height || !meta.format) throw new Error('no dimensions');
      return { data: bytes, width: meta.width, height: meta.height, format: meta.format };
    } catch {
      throw fail('The data is not a readable image (PNG, JPG, WEBP, GIF, TIFF or AVIF).');
    }
  }

  private async fetchUrl(
    orgId: string,
    parameter: string,
    value: string,
    fail: (why: string) => ProtocolError,
  ): Promise<Buffer> {
    const own = this.media.parseOwnUrl(value);
    if (own) return this.media.read(await this.ownedByUrl(orgId, parameter, own));
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw fail('The URL is malformed.');
    }
    if (!this.outbound.allows(url)) {
      throw fail(`The host '${url.hostname}' is not on this server's outbound allow-list (RUNTRAIL_OUTBOUND_ALLOW).`);
    }
    try {
      const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > this.maxBytes) throw new Error(`it is larger than ${this.maxBytes} bytes`);
      return await readAtMost(res, this.maxBytes);
    } catch (err) {
      throw new ProtocolError(
        'downloadFailed',
        { parameter, reason: (err as Error).message },
        {
          parameter,
          type: 'string',
        },
      );
    }
  }
}
