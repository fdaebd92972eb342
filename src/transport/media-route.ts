// GET /media/<token>/<uuid>.<format>: serves a stored image (or any stored media) by its access
// token, from whichever backend holds it. Byte ranges are honoured (206 with Content-Range, 416
// past the end) so players can seek in large media; several ranges at once are answered with the
// whole object, as RFC 9110 allows. With RUNTRAIL_MEDIA_SERVE=redirect and object storage the
// answer is a 302 to a short-lived presigned URL instead, except for SVG, which must carry our
// sandboxing headers and so is always streamed from here.

import { timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import parseRange from 'range-parser';
import type { MediaServingConfig } from '../config.js';
import type { TaskLedger } from '../ledger/types.js';
import {
  CONTENT_TYPES,
  MediaMissingError,
  SVG_HEADERS,
  parseObjectName,
  type ByteRange,
  type MediaStore,
} from '../media/media-store.js';
import { ProtocolError } from '../protocol/errors.js';
import { isCanonicalUuid } from '../protocol/uuid.js';

export interface MediaRouteDeps {
  ledger: TaskLedger;
  media: MediaStore;
  log: Logger;
  serving?: MediaServingConfig;
}

export function registerMediaRoute(app: FastifyInstance, deps: MediaRouteDeps): void {
  app.get<{ Params: { token: string; file: string } }>('/media/:token/:file', async (req, reply) => {
    const name = parseObjectName(req.params.file);
    const record =
      name && isCanonicalUuid(name.mediaUUID) ? await deps.ledger.findMediaForServing(name.mediaUUID) : undefined;
    const given = Buffer.from(req.params.token);
    if (
      !record ||
      record.format !== name?.format ||
      given.length !== record.accessToken.length ||
      !timingSafeEqual(given, Buffer.from(record.accessToken))
    ) {
      throw new ProtocolError('notFound', { target: 'this media URL' });
    }
    if (deps.serving?.redirect && record.format !== 'svg') {
      const url = await deps.media.presignedUrl(record, deps.serving.presignSeconds);
      if (url !== undefined) return reply.code(302).header('location', url).header('cache-control', 'no-store').send();
    }
    const size = record.bytes;
    let range: ByteRange | undefined;
    const asked = req.headers.range;
    if (asked !== undefined && wellFormed(asked)) {
      const parsed = parseRange(size, asked, { combine: true });
      if (parsed === -1)
        return reply.code(416).header('content-range', `bytes */${size}`).header('accept-ranges', 'bytes').send();
      // Several ranges: the whole object (one 200 rather than a multipart body).
      if (parsed !== -2 && parsed.type === 'bytes' && parsed.length === 1 && parsed[0] !== undefined) range = parsed[0];
    }
    let body: Readable;
    try {
      body = await deps.media.stream(record, range);
    } catch (err) {
      if (err instanceof MediaMissingError) {
        deps.log.error({ err, mediaUUID: record.mediaUUID }, 'a media row has no stored object');
        throw new ProtocolError('notFound', { target: 'this media URL' });
      }
      if (err instanceof ProtocolError)
        deps.log.warn({ err: (err as Error & { cause?: unknown }).cause ?? err }, 'media storage failed a read');
      throw err;
    }
    if (record.format === 'svg') reply.headers(SVG_HEADERS);
    reply
      .type(CONTENT_TYPES[record.format])
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'private, max-age=31536000, immutable');
    if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
    return reply.header('content-length', String(range ? range.end - range.start + 1 : size)).send(body);
  });
}

/**
 * A Range header that follows the bytes-range grammar (RFC 9110 14.1.2): a malformed one is
 * ignored (the whole object, 200), while a well-formed one past the end is answered 416.
 */
function wellFormed(header: string): boolean {
  const m = /^bytes=(.+)$/.exec(header.trim());
  if (!m?.[1]) return false;
  return m[1].split(',').every((part) => {
    const r = /^\s*(?:(\d+)-(\d*)|-(\d+))\s*$/.exec(part);
    if (!r) return false;
    return r[1] === undefined || r[2] === undefined || r[2] === '' || Number(r[1]) <= Number(r[2]);
  });
}
