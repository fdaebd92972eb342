// controlNetPreprocess models: one per preprocessor this server runs. canny, tile and shuffle
// are algorithms (no network); openpose draws from Human's MoveNet Lightning body keypoints
// (plus HandTrack and the face mesh when hands and face are asked for), not from OpenPose itself.

import type { BuiltinModel } from '../catalogue.js';
import type { Preprocessor } from '../ops/controlnet-preprocess.js';

const TASK_TYPE = 'controlNetPreprocess';

interface PreprocessorSpec {
  air: string;
  version: string;
  name: string;
  architecture: string;
  preprocessor: Preprocessor;
  description: string;
}

const PREPROCESSOR_MODELS: PreprocessorSpec[] = [
  {
    air: 'runtrail:canny@1',
    version: '1',
    name: 'Canny edges',
    architecture: 'canny',
    preprocessor: 'canny',
    description:
      "Canny edge detection (3×3 Sobel, L1 magnitude, hysteresis between the two thresholds), as OpenCV's defaults; no network.",
  },
  {
    air: 'runtrail:tile@1',
    version: '1',
    name: 'tile (blurred layout)',
    architecture: 'resampler',
    preprocessor: 'tile',
    description:
      'The picture shrunk ×8 and enlarged again (cubic): layout and colours kept, detail removed; no network.',
  },
  {
    air: 'runtrail:content-shuffle@1',
    version: '1',
    name: 'content shuffle',
    architecture: 'warp',
    preprocessor: 'shuffle',
    description: 'A smooth random warp (seeded) that scrambles layout but keeps colours and textures; no network.',
  },
  {
    air: 'runtrail:movenet-openpose@lightning',
    version: 'lightning',
    name: 'OpenPose-style skeleton from MoveNet',
    architecture: 'movenet',
    preprocessor: 'openpose',
    description:
      "OpenPose's 18-point coloured skeleton drawn from MoveNet Lightning body keypoints (single person), with HandTrack hands and face-mesh points when asked for.",
  },
];

/** The preprocessor a local model runs. */
export function preprocessorOf(air: string): Preprocessor | undefined {
  return PREPROCESSOR_MODELS.find((m) => m.air.toLowerCase() === air.toLowerCase())?.preprocessor;
}

export const controlNetPreprocessModels: BuiltinModel[] = PREPROCESSOR_MODELS.map((m) => ({
  air: m.air,
  name: `runtrail ${m.name}`,
  version: m.version,
  category: 'controlnet-preprocessor',
  architecture: m.architecture,
  taskTypes: [TASK_TYPE],
  defaultWidth: 0,
  defaultHeight: 0,
  shortDescription: m.description,
  operations: ['controlnet-preprocess'],
  standsIn: [{ taskType: TASK_TYPE, model: `runware:controlnet-preprocess@${m.preprocessor}` }],
}));
