// Draws people the way OpenPose-conditioned ControlNets were trained to read them: on black, the
// 18-keypoint body (COCO's 17 plus a neck between the shoulders) with OpenPose's colour per limb
// and joint, optionally hands (21 points, rainbow edges) and face landmarks (white dots).

import type { BodyFound, FaceFound, HandFound, Point } from './human-files.js';
import { svgNumber } from './encode-image.js';

// OpenPose's 18 body points, in its order, named as the body model names them.
const OPENPOSE_POINTS = [
  'nose',
  'neck',
  'rightShoulder',
  'rightElbow',
  'rightWrist',
  'leftShoulder',
  'leftElbow',
  'leftWrist',
  'rightHip',
  'rightKnee',
  'rightAnkle',
  'leftHip',
  'leftKnee',
  'leftAnkle',
  'rightEye',
  'leftEye',
  'rightEar',
  'leftEar',
] as const;
// Limbs as pairs of indices into OPENPOSE_POINTS, in OpenPose's order (which fixes their colours).
const LIMBS: readonly [number, number][] = [
  [1, 2],
  [1, 5],
  [2, 3],
  [3, 4],
  [5, 6],
  [6, 7],
  [1, 8],
  [8, 9],
  [9, 10],
  [1, 11],
  [11, 12],
  [12, 13],
  [1, 0],
  [0, 14],
  [14, 16],
  [0, 15],
  [15, 17],
];
const COLOURS = [
  [255, 0, 0],
  [255, 85, 0],
  [255, 170, 0],
  [255, 255, 0],
  [170, 255, 0],
  [85, 255, 0],
  [0, 255, 0],
  [0, 255, 85],
  [0, 255, 170],
  [0, 255, 255],
  [0, 170, 255],
  [0, 85, 255],
  [0, 0, 255],
  [85, 0, 255],
  [170, 0, 255],
  [255, 0, 255],
  [255, 0, 170],
  [255, 0, 85],
] as const;
const HAND_EDGES: readonly [number, number][] = [
  [0, 1],
  [1, 2],
  [2, 3],
  [3, 4],
  [0, 5],
  [5, 6],
  [6, 7],
  [7, 8],
  [0, 9],
  [9, 10],
  [10, 11],
  [11, 12],
  [0, 13],
  [13, 14],
  [14, 15],
  [15, 16],
  [0, 17],
  [17, 18],
  [18, 19],
  [19, 20],
];
// Face landmark groups drawn when faces are asked for (OpenPose draws ~70 face points).
const FACE_GROUPS = [
  'silhouette',
  'rightEyebrowUpper',
  'leftEyebrowUpper',
  'rightEyeUpper0',
  'rightEyeLower0',
  'leftEyeUpper0',
  'leftEyeLower0',
  'lipsUpperOuter',
  'lipsLowerOuter',
  'noseBottom',
  'noseTip',
  'noseRightCorner',
  'noseLeftCorner',
];

/** Keypoints scoring below this are treated as not seen. */
export const MIN_KEYPOINT_SCORE = 0.3;

const rgb = (c: readonly number[]) => `rgb(${c[0]},${c[1]},${c[2]})`;

/** OpenPose's 18 points for one body; null where the model did not see the point. */
export function openposePoints(body: BodyFound): (Point | null)[] {
  const seen = new Map<string, Point>();
  for (const k of body.keypoints) if (k.score >= MIN_KEYPOINT_SCORE) seen.set(k.part, [k.x, k.y]);
  const l = seen.get('leftShoulder');
  const r = seen.get('rightShoulder');
  if (l && r) seen.set('neck', [(l[0] + r[0]) / 2, (l[1] + r[1]) / 2]);
  return OPENPOSE_POINTS.map((name) => seen.get(name) ?? null);
}

export function poseSvg(
  width: number,
  height: number,
  people: { bodies: BodyFound[]; hands: HandFound[]; faces: FaceFound[] },
): string {
  const unit = Math.max(1, Math.round(Math.max(width, height) / 256)); // line width scales with the image, as in OpenPose's renderer
  const parts: string[] = [];
  for (const body of people.bodies) {
    const points = openposePoints(body);
    LIMBS.forEach(([a, b], i) => {
      const p = points[a];
      const q = points[b];
      if (p && q)
        parts.push(
          `<line x1="${svgNumber(p[0])}" y1="${svgNumber(p[1])}" x2="${svgNumber(q[0])}" y2="${svgNumber(q[1])}" stroke="${rgb(COLOURS[i]!)}" stroke-opacity="0.6" stroke-width="${4 * unit}" stroke-linecap="round"/>`,
        );
    });
    points.forEach((p, i) => {
      if (p)
        parts.push(
          `<circle cx="${svgNumber(p[0])}" cy="${svgNumber(p[1])}" r="${2 * unit}" fill="${rgb(COLOURS[i]!)}"/>`,
        );
    });
  }
  for (const hand of people.hands) {
    HAND_EDGES.forEach(([a, b], i) => {
      const p = hand.keypoints[a];
      const q = hand.keypoints[b];
      const hue = Math.round((i / HAND_EDGES.length) * 360);
      if (p && q)
        parts.push(
          `<line x1="${svgNumber(p[0])}" y1="${svgNumber(p[1])}" x2="${svgNumber(q[0])}" y2="${svgNumber(q[1])}" stroke="hsl(${hue},100%,50%)" stroke-width="${unit}"/>`,
        );
    });
    for (const p of hand.keypoints)
      parts.push(`<circle cx="${svgNumber(p[0])}" cy="${svgNumber(p[1])}" r="${unit}" fill="rgb(0,0,255)"/>`);
  }
  for (const face of people.faces) {
    for (const group of FACE_GROUPS) {
      for (const p of face.annotations[group] ?? [])
        parts.push(`<circle cx="${svgNumber(p[0])}" cy="${svgNumber(p[1])}" r="${unit}" fill="#fff"/>`);
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="#000"/>${parts.join('')}</svg>`;
}
