// Operation `image-masking`: finds faces, face parts, hands or persons with Human's models and
// draws them white on black. Face boxes come from BlazeFace, face parts from the MediaPipe face
// mesh (468 points plus irises), hands from HandTrack, persons from CenterNet's COCO `person`
// class (their boxes: no person silhouette model ships under a permissive licence).

import sharp from 'sharp';
import { humanAvailability, type Box, type FaceFound, type Point } from './human-files.js';
import { encodeImage, svgNumber } from './encode-image.js';
import type { Availability, EncodedFormat, EncodedImage } from '../operation.js';

/** What a mask covers. */
export const MASK_TARGETS = [
  'face-box',
  'face-mesh',
  'eyes',
  'lips',
  'nose',
  'eyes-lips',
  'nose-eyes',
  'nose-lips',
  'hand',
  'person',
] as const;
export type MaskTarget = (typeof MASK_TARGETS)[number];

export interface ImageMaskingInput {
  image: Uint8Array;
  target: MaskTarget;
  /** 0–1: detections scoring lower are left out. */
  confidence: number;
  /** 1–20: the highest-scoring detections kept. */
  maxDetections: number;
  /** Pixels the mask grows by (negative: shrinks). */
  maskPadding: number;
  /** Blur radius of the mask's edge in pixels (0: hard edge). */
  maskBlur: number;
  format: EncodedFormat;
  quality: number;
}

export interface MaskDetection {
  x_min: number;
  y_min: number;
  x_max: number;
  y_max: number;
}

export interface ImageMaskingOutput extends EncodedImage {
  detections: MaskDetection[];
}

declare module './op-table.js' {
  interface OpTable {
    'image-masking': { input: ImageMaskingInput; output: ImageMaskingOutput };
  }
}

export function availability(): Availability {
  return humanAvailability();
}

/** One detected thing: the closed shapes to fill and its score. */
interface MaskedRegion {
  score: number;
  polygons: Point[][];
}

// Face-mesh indices around the nose (bridge, tip, nostrils): their convex hull is the nose region.
const NOSE_POINTS = [
  168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 64, 294, 48, 278, 129, 358, 49, 279, 102, 331, 115, 344, 220, 440,
];

export async function run(input: ImageMaskingInput): Promise<ImageMaskingOutput> {
  const byFaces = input.target !== 'hand' && input.target !== 'person';
  const { detectPeople } = await import('./human-runtime.js');
  const found = await detectPeople(input.image, {
    faces: byFaces,
    // The mesh also vets BlazeFace's boxes: faces it cannot fit are dropped, even for box masks.
    mesh: byFaces,
    hands: input.target === 'hand',
    objects: input.target === 'person',
    minConfidence: input.confidence,
    maxDetected: input.maxDetections,
  });
  let regions: MaskedRegion[];
  if (input.target === 'hand') regions = found.hands.map((h) => ({ score: h.score, polygons: [boxPolygon(h.box)] }));
  else if (input.target === 'person')
    regions = found.objects
      .filter((o) => o.label === 'person')
      .map((o) => ({ score: o.score, polygons: [boxPolygon(o.box)] }));
  else
    regions = found.faces
      .map((f) => ({ score: f.score, polygons: facePolygons(f, input.target) }))
      .filter((r) => r.polygons.length > 0);

  regions = regions
    .filter((r) => r.score >= input.confidence)
    .sort((a, b) => b.score - a.score)
    .slice(0, input.maxDetections);

  const { width, height } = found;
  const detections = regions.map((r) => detectionBox(r.polygons, width, height));
  const svg = maskSvg(regions, width, height, input.maskPadding);
  let mask = sharp(Buffer.from(svg)).flatten({ background: '#000000' });
  if (input.maskBlur > 0) {
    // Rendered once to raw pixels so the blur applies to the finished mask, not the SVG's raster.
    const raw = await mask.raw().toBuffer({ resolveWithObject: true });
    mask = sharp(raw.data, {
      raw: { width: raw.info.width, height: raw.info.height, channels: raw.info.channels },
    }).blur(Math.max(0.3, input.maskBlur / 2));
  }
  const encoded = await encodeImage(mask.greyscale(), input.format, input.quality);
  return { ...encoded, detections };
}

function boxPolygon([x, y, w, h]: Box): Point[] {
  return [
    [x, y],
    [x + w, y],
    [x + w, y + h],
    [x, y + h],
  ];
}

function facePolygons(face: FaceFound, target: MaskTarget): Point[][] {
  const a = face.annotations;
  const outline = (upper: string, lower: string): Point[] | null => {
    const top = a[upper];
    const bottom = a[lower];
    return top && bottom && top.length > 0 && bottom.length > 0 ? [...top, ...[...bottom].reverse()] : null;
  };
  const eyes = () => [outline('rightEyeUpper0', 'rightEyeLower0'), outline('leftEyeUpper0', 'leftEyeLower0')];
  const lips = () => [outline('lipsUpperOuter', 'lipsLowerOuter')];
  const nose = () => {
    const points = NOSE_POINTS.map((i) => face.mesh[i]).filter((p): p is Point => p !== undefined);
    return [points.length >= 3 ? convexHull(points) : null];
  };
  let shapes: (Point[] | null)[];
  switch (target) {
    case 'face-box':
      shapes = [boxPolygon(face.box)];
      break;
    case 'face-mesh':
      shapes = [a.silhouette && a.silhouette.length >= 3 ? a.silhouette : null];
      break;
    case 'eyes':
      shapes = eyes();
      break;
    case 'lips':
      shapes = lips();
      break;
    case 'nose':
      shapes = nose();
      break;
    case 'eyes-lips':
      shapes = [...eyes(), ...lips()];
      break;
    case 'nose-eyes':
      shapes = [...nose(), ...eyes()];
      break;
    case 'nose-lips':
      shapes = [...nose(), ...lips()];
      break;
    default:
      shapes = [];
  }
  return shapes.filter((s): s is Point[] => s !== null);
}

/** Andrew's monotone chain: the convex hull of the points, counter-clockwise. */
export function convexHull(points: Point[]): Point[] {
  const sorted = [...points].sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list: Point[]) => {
    const out: Point[] = [];
    for (const p of list) {
      while (out.length >= 2 && cross(out[out.length - 2]!, out[out.length - 1]!, p) <= 0) out.pop();
      out.push(p);
    }
    out.pop();
    return out;
  };
  return [...half(sorted), ...half([...sorted].reverse())];
}

function detectionBox(polygons: Point[][], width: number, height: number): MaskDetection {
  const xs = polygons.flat().map((p) => p[0]);
  const ys = polygons.flat().map((p) => p[1]);
  const clamp = (v: number, max: number) => Math.min(max, Math.max(0, Math.round(v)));
  return {
    x_min: clamp(Math.min(...xs), width),
    y_min: clamp(Math.min(...ys), height),
    x_max: clamp(Math.max(...xs), width),
    y_max: clamp(Math.max(...ys), height),
  };
}

/**
 * The mask as SVG: shapes filled white; positive padding strokes them white (a round stroke of
 * width 2p grows a shape by p), negative padding strokes them black after all fills (shrinks).
 */
function maskSvg(regions: MaskedRegion[], width: number, height: number, padding: number): string {
  const shapes = regions
    .flatMap((r) => r.polygons)
    .map((poly) => poly.map(([x, y]) => `${svgNumber(x)},${svgNumber(y)}`).join(' '));
  const stroke = Math.abs(padding) * 2;
  const fills = shapes.map(
    (points) =>
      `<polygon points="${points}" fill="#fff"${padding > 0 ? ` stroke="#fff" stroke-width="${stroke}" stroke-linejoin="round"` : ''}/>`,
  );
  const shrink =
    padding < 0
      ? shapes.map(
          (points) =>
            `<polygon points="${points}" fill="none" stroke="#000" stroke-width="${stroke}" stroke-linejoin="round"/>`,
        )
      : [];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="#000"/>${fills.join('')}${shrink.join('')}</svg>`;
}
