// imageInference's content check: which parameters ask for it and which classifier it runs.
// `safety.mode` decides when present ('none' checks nothing, 'fast' runs MobileNetV2, 'full'
// InceptionV3); otherwise `safety.checkContent: true`, or the legacy `checkNSFW: true`, asks for
// the fast check. Each produced image is then classified and its result carries NSFWContent.

import { Type } from '@sinclair/typebox';
import type { NsfwNetwork } from '../engines/builtin/ops/classify-nsfw.js';
import { oneOf } from './validate.js';

export const SAFETY_MODES = ['none', 'fast', 'full'] as const;

export const SafetyParam = Type.Object({
  checkContent: Type.Optional(Type.Boolean()),
  mode: Type.Optional(oneOf(SAFETY_MODES)),
});

export interface SafetyRequest {
  safety?: { checkContent?: boolean; mode?: (typeof SAFETY_MODES)[number] };
  checkNSFW?: boolean;
}

/** The classifier the task asks for, or null when it asks for no check. */
export function nsfwNetworkFor(p: SafetyRequest): NsfwNetwork | null {
  const mode = p.safety?.mode ?? (p.safety?.checkContent || p.checkNSFW ? 'fast' : 'none');
  return mode === 'full' ? 'inception-v3' : mode === 'fast' ? 'mobilenet-v2' : null;
}
