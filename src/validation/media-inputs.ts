// Every media input of a task, found by its task type's list of places, checked when the task is
// accepted (its form: a UUID, a data URI, base64 or a URL; and a UUID or media URL of this server
// must name the organization's own media), anything else answering the field's own code with its
// exact path; then resolved to image bytes by the task before any work runs.

import {
  MEDIA_FORMS,
  mediaFormOf,
  mediaInputError,
  type DecodedImage,
  type ImageInputResolver,
} from '../media/image-input.js';

/**
 * Where each task type takes media: a dotted path, `[]` marking an array whose elements are the
 * media (a string, or an object whose `image` member is). A task type added here has all of its
 * inputs checked and resolved the same way (docs/adding-a-task-type.md).
 */
export const MEDIA_INPUT_PATHS: Readonly<Record<string, readonly string[]>> = {
  imageInference: [
    'seedImage',
    'maskImage',
    'referenceImages[]',
    'inputs.seedImage',
    'inputs.maskImage',
    'inputs.referenceImages[]',
    'controlNet[].guideImage',
    'ipAdapters[].guideImage',
    'ipAdapters[].guideImages[]',
  ],
  // A frame image object names its image `inputImage` (Runware's root field) or `image` (the
  // newer schema's), in either place.
  videoInference: [
    'frameImages[].inputImage',
    'frameImages[].image',
    'referenceImages[]',
    'inputs.frameImages[].inputImage',
    'inputs.frameImages[].image',
    'inputs.image',
    'inputs.images[]',
    'inputs.referenceImages[]',
  ],
  upscale: ['inputImage', 'inputs.image'],
  removeBackground: ['inputImage', 'inputs.image'],
  vectorize: ['inputImage', 'inputs.image'],
  imageMasking: ['inputImage', 'inputs.image'],
  controlNetPreprocess: ['inputImage', 'inputs.image'],
  caption: ['inputImage', 'inputs.image'],
};

export interface MediaInput {
  /** The exact path, array indexes included: `inputs.referenceImages.2`. */
  parameter: string;
  value: string;
}

/**
 * The task's media inputs in list order. A value of the wrong type at a media place answers its
 * field's code (an array element the task type's schema cannot type); missing places are skipped.
 */
export function mediaInputsOf(taskType: string, task: unknown): MediaInput[] {
  const found: MediaInput[] = [];
  for (const path of MEDIA_INPUT_PATHS[taskType] ?? []) collect(task, path.split('.'), '', found);
  return found;
}

function collect(at: unknown, rest: readonly string[], prefix: string, found: MediaInput[]): void {
  if (rest.length === 0) {
    take(at, prefix, found);
    return;
  }
  if (typeof at !== 'object' || at === null || Array.isArray(at)) return;
  const [head = '', ...tail] = rest;
  const array = head.endsWith('[]');
  const name = array ? head.slice(0, -2) : head;
  const value = (at as Record<string, unknown>)[name];
  if (value === undefined) return;
  const path = prefix === '' ? name : `${prefix}.${name}`;
  if (!array) {
    collect(value, tail, path, found);
    return;
  }
  // A value that is not an array is the schema's (or the model rules') to refuse.
  if (!Array.isArray(value)) return;
  value.forEach((element: unknown, i) => {
    const here = `${path}.${i}`;
    if (tail.length > 0) collect(element, tail, here, found);
    // Newer schemas give an element as an object with the media in `image`.
    else if (typeof element === 'object' && element !== null && !Array.isArray(element) && 'image' in element) {
      take(element.image, `${here}.image`, found);
    } else take(element, here, found);
  });
}

function take(value: unknown, parameter: string, found: MediaInput[]): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw mediaInputError(parameter, `${MEDIA_FORMS} It must be a non-empty string.`);
  }
  found.push({ parameter, value });
}

/** Throws the first media input whose form is none of the four (before the task is accepted). */
export function checkMediaForms(taskType: string, task: unknown): void {
  for (const input of mediaInputsOf(taskType, task)) {
    if (mediaFormOf(input.value) === null) throw mediaInputError(input.parameter, MEDIA_FORMS);
  }
}

/**
 * Throws the first media input (in list order) naming this server's media that the organization
 * does not hold: a UUID nobody uploaded, another organization's image, a media URL of another
 * organization. Run when the task is accepted, after its forms are checked, so that an async task
 * too is refused before it is queued; other forms resolve when the task runs.
 */
export async function checkMediaOwned(
  resolver: ImageInputResolver,
  orgId: string,
  taskType: string,
  task: unknown,
): Promise<void> {
  const inputs = mediaInputsOf(taskType, task);
  if (inputs.length === 0) return;
  const settled = await Promise.allSettled(inputs.map((i) => resolver.checkOwned(orgId, i.parameter, i.value)));
  for (const s of settled) if (s.status === 'rejected') throw s.reason as Error;
}

/**
 * Resolves every media input (its UUID in the organization's media, its data, its URL on the
 * allow-list), all before the task does any work; the first that fails fails the task.
 */
export async function resolveMediaInputs(
  resolver: ImageInputResolver,
  orgId: string,
  inputs: readonly MediaInput[],
): Promise<Map<string, DecodedImage>> {
  const settled = await Promise.allSettled(
    inputs.map(async (i) => [i.parameter, await resolver.resolve(orgId, i.parameter, i.value)] as const),
  );
  const out = new Map<string, DecodedImage>();
  for (const s of settled) {
    if (s.status === 'rejected') throw s.reason as Error;
    out.set(s.value[0], s.value[1]);
  }
  return out;
}
