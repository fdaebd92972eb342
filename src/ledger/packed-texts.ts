// Compact storage of a finished task's request and response texts (SQLite ledger, docs/performance.md
// P4). A small task's two texts (a few hundred bytes of JSON) are mostly field names and fixed
// values that every task repeats, plus the same taskUUID in both; deflate primed with a preset
// dictionary of the protocol's vocabulary, over both texts at once, keeps about a third of them.
// Recall stays byte-exact: the texts are UTF-8 bytes in, the same bytes out.
//
// Layout of a packed value: byte 0 = format (1: raw deflate, dictionary v1, 4 KiB window),
// bytes 1–4 = the request's UTF-8 length (big-endian), then deflate(request ‖ response).
// The dictionary is part of the stored format: changing it would make stored tasks unreadable,
// so a different dictionary needs a new format byte (test/packed-texts.test.ts pins this one).

import { deflateRawSync, inflateRawSync, type ZlibOptions } from 'node:zlib';

const FORMAT_DEFLATE_V1 = 1;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const HEADER_BYTES = 5;

/** Texts above this size stay plain: compressing megabytes of base64 would hold the event loop. */
export const PACK_LIMIT_BYTES = 64 * 1024;

// Later strings sit closer to the data and cost fewer bits to refer to, so the most frequent
// pieces (the envelope, taskUUID, image results) come last.
export const PACK_DICTIONARY_V1 = Buffer.from(
  [
    '"code":"","message":"","parameter":"","documentation":"https://docs.runware.ai/","status":"error","statusCode":',
    '{"taskType":"getTaskDetails","taskUUID":"',
    '{"taskType":"getResponse","taskUUID":"',
    '{"taskType":"upscale","inputImage":"","upscaleFactor":2,"imageUUID":"',
    '{"taskType":"imageUpload","image":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA","imageUUID":"',
    '{"taskType":"modelSearch","taskUUID":"","search":"","limit":1,"offset":0,"totalResults":1,"results":[{"air":"runtrail:1@1","name":"runtrail plasma","version":"1","category":"checkpoint","architecture":"procedural","tags":[],"private":false,"defaultWidth":512,"defaultHeight":512,"taskTypes":["imageInference"],"price":0.0013}]}',
    '"deliveryMethod":"async","webhookURL":"https://","uploadEndpoint":"","ttl":',
    '"negativePrompt":"","steps":30,"CFGScale":7,"scheduler":"","clipSkip":',
    '"numberResults":4,"seedImage":"","maskImage":"","strength":0.8,',
    '"lora":[{"model":"","weight":1}],"vae":"","checkNSFW":false,"NSFWContent":false,',
    '"outputType":"base64Data","dataURI","URL","outputFormat":"PNG","WEBP","JPG","outputQuality":95,',
    '"imageBase64Data":"","imageDataURI":"data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD',
    '{"data":[{"taskType":"imageInference","taskUUID":"","model":"runware:101@1","positivePrompt":"a ","width":1024,"height":1024,"includeCost":true}',
    ',{"taskType":"imageInference","taskUUID":"","imageUUID":"","imageURL":"http://127.0.0.1:8080/media/","seed":',
    '.jpg","seed":',
    ',"cost":0.0013}]}',
  ].join(''),
);

/**
 * Packs a finished task's texts, or returns undefined when they should stay plain: too large,
 * not well-formed Unicode (a lone surrogate would not survive UTF-8), or not made smaller.
 */
export function packTexts(requestText: string, responseText: string): Buffer | undefined {
  const input = packInput(requestText, responseText);
  const options = input && input.both.length > FAST_ABOVE_BYTES ? FAST_DEFLATE_OPTIONS : DEFLATE_OPTIONS;
  return input && withHeader(input, deflateRawSync(input.both, options));
}

const DEFLATE_OPTIONS: ZlibOptions = { level: 6, windowBits: 12, memLevel: 8, dictionary: PACK_DICTIONARY_V1 };
/**
 * Texts above this many bytes are deflated at level 1: on a 7 KiB modelSearch answer it takes
 * about half the time of level 6 for a packed text about 15 % larger, while the few hundred bytes
 * of a typical task (what P4 measures) keep level 6. The level is not part of the format: inflate
 * reads either.
 */
const FAST_ABOVE_BYTES = 2048;
const FAST_DEFLATE_OPTIONS: ZlibOptions = { ...DEFLATE_OPTIONS, level: 1 };

function packInput(requestText: string, responseText: string): { requestBytes: number; both: Buffer } | undefined {
  if (requestText.length + responseText.length > PACK_LIMIT_BYTES) return undefined;
  if (LONE_SURROGATE.test(requestText) || LONE_SURROGATE.test(responseText)) return undefined;
  const request = Buffer.from(requestText, 'utf8');
  return { requestBytes: request.length, both: Buffer.concat([request, Buffer.from(responseText, 'utf8')]) };
}

function withHeader(input: { requestBytes: number; both: Buffer }, deflated: Buffer): Buffer | undefined {
  if (deflated.length + HEADER_BYTES >= input.both.length) return undefined;
  const packed = Buffer.allocUnsafe(HEADER_BYTES + deflated.length);
  packed[0] = FORMAT_DEFLATE_V1;
  packed.writeUInt32BE(input.requestBytes, 1);
  deflated.copy(packed, HEADER_BYTES);
  return packed;
}

export function unpackTexts(packed: Uint8Array): { requestText: string; responseText: string } {
  const bytes = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  if (bytes[0] !== FORMAT_DEFLATE_V1) throw new Error(`unknown packed task format ${String(bytes[0])}`);
  const requestBytes = bytes.readUInt32BE(1);
  const both = inflateRawSync(bytes.subarray(HEADER_BYTES), { windowBits: 12, dictionary: PACK_DICTIONARY_V1 });
  return { requestText: both.toString('utf8', 0, requestBytes), responseText: both.toString('utf8', requestBytes) };
}

/** The request text alone (text search over packed rows). */
export function unpackRequestText(packed: Uint8Array): string {
  return unpackTexts(packed).requestText;
}
