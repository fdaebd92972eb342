// imageMasking models: Human's networks, named for what they are. Runware's YOLO maskers
// (runware:35@1–@5) have no shipped equivalent, so the nearest network here stands in: BlazeFace
// for the face detectors, HandTrack for the hand detector, CenterNet's person class (boxes, not
// silhouettes) for the person segmenters. The MediaPipe maskers (@6–@15) run MediaPipe's own
// BlazeFace and face mesh, as Human ships them.

import type { BuiltinModel } from '../catalogue.js';
import type { MaskTarget } from '../ops/image-masking.js';

interface MaskerSpec {
  air: string;
  version: string;
  name: string;
  architecture: string;
  target: MaskTarget;
  description: string;
  runware: string[];
}

const MASKERS: MaskerSpec[] = [
  {
    air: 'runtrail:blazeface@1',
    version: '1',
    name: 'BlazeFace face boxes',
    architecture: 'blazeface',
    target: 'face-box',
    description: 'MediaPipe BlazeFace face detector (as shipped in @vladmandic/human); the mask is each face box.',
    runware: ['runware:35@1', 'runware:35@2', 'runware:35@6', 'runware:35@7'],
  },
  {
    air: 'runtrail:mediapipe-face-mesh@1',
    version: '1',
    name: 'MediaPipe face mesh: face oval',
    architecture: 'mediapipe-face-mesh',
    target: 'face-mesh',
    description: 'MediaPipe face mesh (468 points) on BlazeFace detections; the mask is the face outline.',
    runware: ['runware:35@8'],
  },
  {
    air: 'runtrail:mediapipe-face-mesh@eyes',
    version: 'eyes',
    name: 'MediaPipe face mesh: eyes',
    architecture: 'mediapipe-face-mesh',
    target: 'eyes',
    description: 'MediaPipe face mesh; the mask is both eye outlines.',
    runware: ['runware:35@9', 'runware:35@15'],
  },
  {
    air: 'runtrail:mediapipe-face-mesh@eyes-lips',
    version: 'eyes-lips',
    name: 'MediaPipe face mesh: eyes and lips',
    architecture: 'mediapipe-face-mesh',
    target: 'eyes-lips',
    description: 'MediaPipe face mesh; the mask is both eyes and the outer lip line.',
    runware: ['runware:35@10'],
  },
  {
    air: 'runtrail:mediapipe-face-mesh@nose-eyes',
    version: 'nose-eyes',
    name: 'MediaPipe face mesh: nose and eyes',
    architecture: 'mediapipe-face-mesh',
    target: 'nose-eyes',
    description: 'MediaPipe face mesh; the mask is the nose (hull of its mesh points) and both eyes.',
    runware: ['runware:35@11'],
  },
  {
    air: 'runtrail:mediapipe-face-mesh@nose-lips',
    version: 'nose-lips',
    name: 'MediaPipe face mesh: nose and lips',
    architecture: 'mediapipe-face-mesh',
    target: 'nose-lips',
    description: 'MediaPipe face mesh; the mask is the nose and the lips.',
    runware: ['runware:35@12'],
  },
  {
    air: 'runtrail:mediapipe-face-mesh@nose',
    version: 'nose',
    name: 'MediaPipe face mesh: nose',
    architecture: 'mediapipe-face-mesh',
    target: 'nose',
    description: 'MediaPipe face mesh; the mask is the nose.',
    runware: ['runware:35@13'],
  },
  {
    air: 'runtrail:mediapipe-face-mesh@lips',
    version: 'lips',
    name: 'MediaPipe face mesh: lips',
    architecture: 'mediapipe-face-mesh',
    target: 'lips',
    description: 'MediaPipe face mesh; the mask is the outer lip line.',
    runware: ['runware:35@14'],
  },
  {
    air: 'runtrail:handtrack@1',
    version: '1',
    name: 'HandTrack hand boxes',
    architecture: 'handtrack',
    target: 'hand',
    description: 'HandTrack hand detector (as shipped in @vladmandic/human); the mask is each hand box.',
    runware: ['runware:35@3'],
  },
  {
    air: 'runtrail:centernet@person',
    version: 'person',
    name: 'CenterNet person boxes',
    architecture: 'centernet',
    target: 'person',
    description: "CenterNet COCO object detector's person class; the mask is each person's box (no silhouette).",
    runware: ['runware:35@4', 'runware:35@5'],
  },
];

/** The mask target a local masking model draws. */
export function maskTargetOf(air: string): MaskTarget | undefined {
  return MASKERS.find((m) => m.air.toLowerCase() === air.toLowerCase())?.target;
}

export const imageMaskingModels: BuiltinModel[] = MASKERS.map((m) => ({
  air: m.air,
  name: `runtrail ${m.name}`,
  version: m.version,
  category: 'masking',
  architecture: m.architecture,
  taskTypes: ['imageMasking'],
  defaultWidth: 0,
  defaultHeight: 0,
  shortDescription: m.description,
  operations: ['image-masking'],
  standsIn: m.runware.map((model) => ({ taskType: 'imageMasking', model })),
}));
