// What an archived output is, judged from its bytes and checked against what it was said to be:
// the Content-Type the upstream served it with (or the data URI's type) and the member it came in
// (`imageURL` holds an image). runtrail stores only the formats its media store serves, so an
// output that is none of them, or that says one thing and is another, is refused with the reason.

import { CONTENT_TYPES, type MediaFormat } from '../media/media-store.js';
import type { OutputKind } from './output-fields.js';

const KIND_OF_FORMAT: Record<MediaFormat, Exclude<OutputKind, 'any'>> = {
  jpg: 'image',
  png: 'image',
  webp: 'image',
  svg: 'image',
  mp3: 'audio',
  wav: 'audio',
  flac: 'audio',
  ogg: 'audio',
  mp4: 'video',
  webm: 'video',
  mov: 'video',
};

/** Types servers also send for the same formats. */
const TYPE_ALIASES: Record<string, MediaFormat> = {
  'image/jpg': 'jpg',
  'image/pjpeg': 'jpg',
  'audio/mp3': 'mp3',
  'audio/x-wav': 'wav',
  'audio/wave': 'wav',
  'audio/vnd.wave': 'wav',
  'audio/x-flac': 'flac',
  'audio/vorbis': 'ogg',
  'application/ogg': 'ogg',
};

/** Types that say nothing about the bytes: the bytes decide. */
const UNTYPED = new Set(['', 'application/octet-stream', 'binary/octet-stream']);

export class OutputRefused extends Error {}

/** The stored format of `data`, or OutputRefused saying why it is not kept. */
export function archivedFormat(data: Buffer, declaredType: string | undefined, kind: OutputKind): MediaFormat {
  const sniffed = sniff(data);
  const declared = (declaredType ?? '').split(';')[0]!.trim().toLowerCase();
  if (sniffed === undefined) {
    throw new OutputRefused(
      `its bytes are no image, sound or video format runtrail stores${declared ? ` (served as ${declared})` : ''}`,
    );
  }
  if (!UNTYPED.has(declared)) {
    const said = formatOfType(declared);
    if (said !== sniffed)
      throw new OutputRefused(`it was served as ${declared} but its bytes are ${CONTENT_TYPES[sniffed]}`);
  }
  if (kind !== 'any' && KIND_OF_FORMAT[sniffed] !== kind)
    throw new OutputRefused(`it should be ${kind === 'image' ? 'an' : 'a'} ${kind} but is ${CONTENT_TYPES[sniffed]}`);
  return sniffed;
}

function formatOfType(type: string): MediaFormat | undefined {
  const own = (Object.keys(CONTENT_TYPES) as MediaFormat[]).find((f) => CONTENT_TYPES[f] === type);
  return own ?? TYPE_ALIASES[type];
}

const ascii = (data: Buffer, at: number, text: string) =>
  data.subarray(at, at + text.length).toString('latin1') === text;

/** The format the leading bytes announce, if it is one the media store keeps. */
export function sniff(data: Buffer): MediaFormat | undefined {
  if (data.length < 4) return undefined;
  if (data[0] === 0x89 && ascii(data, 1, 'PNG')) return 'png';
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'jpg';
  if (ascii(data, 0, 'RIFF') && ascii(data, 8, 'WEBP')) return 'webp';
  if (ascii(data, 0, 'RIFF') && ascii(data, 8, 'WAVE')) return 'wav';
  if (ascii(data, 0, 'fLaC')) return 'flac';
  if (ascii(data, 0, 'OggS')) return 'ogg';
  if (ascii(data, 0, 'ID3') || (data[0] === 0xff && (data[1]! & 0xe0) === 0xe0)) return 'mp3';
  if (data[0] === 0x1a && data[1] === 0x45 && data[2] === 0xdf && data[3] === 0xa3) return 'webm';
  if (ascii(data, 4, 'ftyp')) return ascii(data, 8, 'qt  ') ? 'mov' : 'mp4';
  // An SVG document: markup whose first element is <svg (after any declaration, comments or doctype).
  const head = data
    .subarray(0, 4096)
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  const rest = head.replace(/^(\s*(<\?xml[^>]*\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>))*\s*/i, '');
  if (/^<svg[\s>]/i.test(rest)) return 'svg';
  return undefined;
}
