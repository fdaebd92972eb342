// Which members of an upstream's result item are outputs to archive: the files a task produced,
// given as a URL (`imageURL`, `videoURL`, `audioURL`, `maskImageURL`, `guideImageURL`,
// `mediaURL`), as base64 (`…Base64Data`) or as a data URI (`…DataURI`), whatever the task type
// (an SVG from vectorize is an `imageURL` too). Other members (`imageUUID`, `cost`, text) are
// recorded with the task already.

import type { OutputForm } from '../ledger/archive-types.js';

export interface OutputMember {
  field: string;
  form: OutputForm;
  value: string;
}

/** What kind of file a member should hold, from its name. */
export type OutputKind = 'image' | 'video' | 'audio' | 'any';

const OUTPUT_MEMBER = /^(image|maskImage|guideImage|video|audio|media)(URL|Base64Data|DataURI)$/;

const FORMS: Record<string, OutputForm> = { URL: 'url', Base64Data: 'base64', DataURI: 'dataURI' };

/** The outputs an item holds, in member order; non-string and empty values are not outputs. */
export function outputsOf(item: Record<string, unknown>): OutputMember[] {
  const found: OutputMember[] = [];
  for (const [field, value] of Object.entries(item)) {
    const m = OUTPUT_MEMBER.exec(field);
    if (!m || typeof value !== 'string' || value === '') continue;
    found.push({ field, form: FORMS[m[2]!]!, value });
  }
  return found;
}

/** The kind of file the member named `field` holds. */
export function kindOf(field: string): OutputKind {
  const m = OUTPUT_MEMBER.exec(field);
  const prefix = m?.[1];
  if (prefix === 'video') return 'video';
  if (prefix === 'audio') return 'audio';
  if (prefix === 'media' || prefix === undefined) return 'any';
  return 'image';
}
