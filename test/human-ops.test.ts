// The people operations run directly (main thread) on the photos in test/fixtures/photos/: real
// Human models on TF.js wasm, asserting where masks, edges and skeletons land.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  run as mask,
  availability as maskingAvailability,
  convexHull,
} from '../src/engines/builtin/ops/image-masking.js';
import { run as preprocess, shuffleContent } from '../src/engines/builtin/ops/controlnet-preprocess.js';
import { run as estimateAges } from '../src/engines/builtin/ops/age-estimate.js';
import { cannyEdges } from '../src/engines/builtin/ops/canny-edges.js';
import { OperationError } from '../src/engines/builtin/ops/operation-error.js';
import { ageGroupOf, ageStructuredData } from '../src/tasks/caption.js';
import { REPO_ROOT } from './helpers/server.js';
import { guardOpenHandles } from './helpers/open-handles.js';

const photo = (name: string) => readFileSync(join(REPO_ROOT, 'test/fixtures/photos', name));
const TWO_FACES = photo('people-two-faces.jpg'); // astronaut on the left half (x < 350), cameraman on the right
const ASTRONAUT = photo('person-astronaut.jpg');
const COFFEE = photo('object-coffee-cup.jpg');

async function grey(image: Uint8Array): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(image).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Share of pixels brighter than 127 inside and outside the boxes. */
function whiteShares(
  img: { data: Buffer; width: number; height: number },
  boxes: { x_min: number; y_min: number; x_max: number; y_max: number }[],
) {
  let inside = 0,
    insideWhite = 0,
    outside = 0,
    outsideWhite = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const white = img.data[y * img.width + x]! > 127;
      if (boxes.some((b) => x >= b.x_min && x < b.x_max && y >= b.y_min && y < b.y_max)) {
        inside++;
        if (white) insideWhite++;
      } else {
        outside++;
        if (white) outsideWhite++;
      }
    }
  }
  return { inside: inside ? insideWhite / inside : 0, outside: outside ? outsideWhite / outside : 0 };
}

const maskInput = {
  confidence: 0.25,
  maxDetections: 6,
  maskPadding: 4,
  maskBlur: 4,
  format: 'png' as const,
  quality: 95,
};

test('availability reports the Human models installed, without loading them', () => {
  assert.deepEqual(maskingAvailability(), { ready: true });
});

test('face-mesh mask: one detection per face, where each face is, white inside and black outside', async () => {
  const out = await mask({ image: TWO_FACES, target: 'face-mesh', ...maskInput });
  assert.equal(out.width, 700);
  assert.equal(out.height, 360);
  assert.equal(out.detections.length, 2, JSON.stringify(out.detections));
  const [left, right] = [...out.detections].sort((a, b) => a.x_min - b.x_min);
  assert.ok(left!.x_max < 350 && right!.x_min > 350, 'one face on each photo');
  for (const d of out.detections) {
    assert.ok(
      d.y_min < 180 && d.y_max - d.y_min > 30 && d.x_max - d.x_min > 30,
      `a face-sized box in the upper half: ${JSON.stringify(d)}`,
    );
  }
  const shares = whiteShares(await grey(out.image), out.detections);
  assert.ok(shares.inside > 0.6, `mask covers the faces (${shares.inside})`);
  assert.ok(shares.outside < 0.03, `little mask outside them (${shares.outside})`);
});

test('face parts: eyes and lips lie inside the face, cover less than the face, and padding grows or shrinks them', async () => {
  const face = (await mask({ image: ASTRONAUT, target: 'face-box', ...maskInput })).detections[0]!;
  const parts = await mask({ image: ASTRONAUT, target: 'eyes-lips', ...maskInput, maskBlur: 0 });
  const box = parts.detections[0]!;
  assert.ok(
    box.x_min >= face.x_min && box.x_max <= face.x_max && box.y_min >= face.y_min && box.y_max <= face.y_max,
    `${JSON.stringify(box)} inside ${JSON.stringify(face)}`,
  );
  const count = async (maskPadding: number) => {
    const out = await mask({ image: ASTRONAUT, target: 'eyes-lips', ...maskInput, maskBlur: 0, maskPadding });
    return (await grey(out.image)).data.filter((v) => v > 127).length;
  };
  const [shrunk, plain, grown] = [await count(-2), await count(0), await count(8)];
  assert.ok(shrunk < plain && plain < grown, `${shrunk} < ${plain} < ${grown}`);
  const faceArea = (face.x_max - face.x_min) * (face.y_max - face.y_min);
  assert.ok(plain > 50 && plain < faceArea / 3, `eyes and lips are a small part of the face (${plain} of ${faceArea})`);
});

test('nose mask sits between the eyes and the lips', async () => {
  const eyes = (await mask({ image: ASTRONAUT, target: 'eyes', ...maskInput })).detections[0]!;
  const lips = (await mask({ image: ASTRONAUT, target: 'lips', ...maskInput })).detections[0]!;
  const nose = (await mask({ image: ASTRONAUT, target: 'nose', ...maskInput })).detections[0]!;
  const centre = (d: typeof nose) => [(d.x_min + d.x_max) / 2, (d.y_min + d.y_max) / 2] as const;
  assert.ok(
    centre(eyes)[1] < centre(nose)[1] && centre(nose)[1] < centre(lips)[1],
    JSON.stringify({ eyes, nose, lips }),
  );
  assert.ok(nose.x_min > eyes.x_min && nose.x_max < eyes.x_max, 'nose between the outer eye corners');
});

test('person mask: both people are found, each on their own half', async () => {
  const out = await mask({ image: TWO_FACES, target: 'person', ...maskInput });
  assert.equal(out.detections.length, 2, JSON.stringify(out.detections));
  const [left, right] = [...out.detections].sort((a, b) => a.x_min - b.x_min);
  assert.ok(left!.x_max < 360 && right!.x_min > 340);
  assert.ok(whiteShares(await grey(out.image), out.detections).inside > 0.9);
});

test('maxDetections and confidence limit what is masked; a photo without people gives an all-black mask', async () => {
  const one = await mask({ image: TWO_FACES, target: 'face-box', ...maskInput, maxDetections: 1 });
  assert.equal(one.detections.length, 1);
  const strict = await mask({ image: TWO_FACES, target: 'face-box', ...maskInput, confidence: 1 });
  assert.equal(strict.detections.length, 0);
  const none = await mask({ image: COFFEE, target: 'face-mesh', ...maskInput, format: 'jpg' });
  assert.equal(none.detections.length, 0);
  assert.ok(
    (await grey(none.image)).data.every((v) => v < 16),
    'all black',
  );
});

test('a corrupt image and an image over 4096×4096 are refused with invalidInputImage', async () => {
  await assert.rejects(
    mask({ image: new Uint8Array([1, 2, 3, 4, 5]), target: 'face-box', ...maskInput }),
    (err: unknown) => err instanceof OperationError && err.code === 'invalidInputImage',
  );
  const huge = await sharp({ create: { width: 4200, height: 4100, channels: 3, background: '#808080' } })
    .png({ compressionLevel: 1 })
    .toBuffer();
  await assert.rejects(
    preprocess({
      image: huge,
      preprocessor: 'canny',
      lowThreshold: 100,
      highThreshold: 200,
      includeHandsAndFace: false,
      seed: 1,
      format: 'png',
      quality: 95,
    }),
    (err: unknown) => err instanceof OperationError && err.code === 'invalidInputImage' && /4096/.test(err.message),
  );
  await assert.rejects(
    estimateAges({ image: huge, minConfidence: 0.25, maxFaces: 5 }),
    (err: unknown) => err instanceof OperationError && err.code === 'invalidInputImage',
  );
});

const cnInput = {
  lowThreshold: 100,
  highThreshold: 200,
  includeHandsAndFace: false,
  seed: 7,
  format: 'png' as const,
  quality: 95,
};

test('canny: a mostly black image of pure white edges; higher thresholds keep fewer', async () => {
  const edges = async (low: number, high: number) =>
    grey(
      (
        await preprocess({
          image: ASTRONAUT,
          preprocessor: 'canny',
          ...cnInput,
          lowThreshold: low,
          highThreshold: high,
        })
      ).image,
    );
  const normal = await edges(100, 200);
  assert.equal(normal.width, 512);
  assert.ok(
    normal.data.every((v) => v === 0 || v === 255),
    'binary',
  );
  const share = normal.data.filter((v) => v === 255).length / normal.data.length;
  assert.ok(share > 0.01 && share < 0.25, `edge share ${share}`);
  const strict = (await edges(200, 250)).data.filter((v) => v === 255).length;
  assert.ok(strict < share * normal.data.length, 'fewer edges at higher thresholds');
});

test('canny on a drawn square finds its outline and nothing in the flat areas', () => {
  const size = 64;
  const img = new Uint8Array(size * size);
  for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) img[y * size + x] = 200;
  const edges = cannyEdges(img, size, size, 100, 200);
  assert.equal(edges[32 * size + 32], 0, 'centre is flat');
  assert.equal(edges[4 * size + 4], 0, 'background is flat');
  const onOutline = [15, 16].some((x) => edges[32 * size + x] === 255);
  assert.ok(onOutline, 'left side of the square is an edge');
});

test('canny honours legacy width/height: the guide has the size asked for', async () => {
  const out = await preprocess({ image: ASTRONAUT, preprocessor: 'canny', ...cnInput, width: 256 });
  assert.deepEqual([out.width, out.height], [256, 256]);
});

test('shuffle: the same seed gives the same bytes, another seed others; colours come from the photo', async () => {
  const a = await preprocess({ image: ASTRONAUT, preprocessor: 'shuffle', ...cnInput, seed: 11 });
  const b = await preprocess({ image: ASTRONAUT, preprocessor: 'shuffle', ...cnInput, seed: 11 });
  const c = await preprocess({ image: ASTRONAUT, preprocessor: 'shuffle', ...cnInput, seed: 12 });
  assert.deepEqual(Buffer.from(a.image), Buffer.from(b.image));
  assert.notDeepEqual(Buffer.from(a.image), Buffer.from(c.image));
  const rgb = new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]);
  const shuffled = shuffleContent(rgb, 2, 2, 3);
  for (let i = 0; i < 4; i++) {
    const px = [...shuffled.slice(i * 3, i * 3 + 3)].join();
    assert.ok(
      ['10,20,30', '40,50,60', '70,80,90', '100,110,120'].includes(px),
      'every pixel is one of the input pixels',
    );
  }
});

test('tile: same size, detail removed (much less gradient energy than the photo)', async () => {
  const energy = async (image: Uint8Array) => {
    const g = await grey(image);
    let sum = 0;
    for (let y = 0; y < g.height; y++)
      for (let x = 1; x < g.width; x++) sum += (g.data[y * g.width + x]! - g.data[y * g.width + x - 1]!) ** 2;
    return sum;
  };
  const out = await preprocess({ image: ASTRONAUT, preprocessor: 'tile', ...cnInput });
  assert.deepEqual([out.width, out.height], [512, 512]);
  assert.ok((await energy(out.image)) < (await energy(ASTRONAUT)) / 4);
});

test('openpose: coloured limbs drawn on black where the person is', async () => {
  const out = await preprocess({ image: ASTRONAUT, preprocessor: 'openpose', ...cnInput });
  const { data, info } = await sharp(out.image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let lit = 0,
    sumX = 0,
    sumY = 0;
  const colours = new Set<string>();
  for (let i = 0; i < info.width * info.height; i++) {
    const [r, g, b] = [data[i * 3]!, data[i * 3 + 1]!, data[i * 3 + 2]!];
    if (r + g + b > 60) {
      lit++;
      sumX += i % info.width;
      sumY += Math.floor(i / info.width);
      colours.add(`${r >> 6},${g >> 6},${b >> 6}`);
    }
  }
  const share = lit / (info.width * info.height);
  assert.ok(share > 0.003 && share < 0.2, `a skeleton, not a picture (${share})`);
  assert.ok(colours.size >= 5, `several limb colours (${colours.size})`);
  // The astronaut's body spans x 60–320 and y 100–512 of the photo (her face is at x 150–300, y 50–200).
  const [cx, cy] = [sumX / lit, sumY / lit];
  assert.ok(cx > 100 && cx < 330 && cy > 100 && cy < 450, `drawn where the person is (${cx}, ${cy})`);
  const withFace = await preprocess({
    image: ASTRONAUT,
    preprocessor: 'openpose',
    ...cnInput,
    includeHandsAndFace: true,
  });
  const whiteDots = async (image: Uint8Array) =>
    (await sharp(image).removeAlpha().raw().toBuffer()).reduce(
      (n, _v, i, all) => (i % 3 === 0 && all[i]! > 240 && all[i + 1]! > 240 && all[i + 2]! > 240 ? n + 1 : n),
      0,
    );
  assert.ok(
    (await whiteDots(withFace.image)) > (await whiteDots(out.image)) + 50,
    'face landmarks are added as white dots',
  );
});

test('openpose on a photo without people is all black', async () => {
  const out = await preprocess({ image: COFFEE, preprocessor: 'openpose', ...cnInput });
  assert.ok((await grey(out.image)).data.every((v) => v < 8));
});

test('ages: one plausible adult age per face, largest face first', async () => {
  const out = await estimateAges({ image: TWO_FACES, minConfidence: 0.25, maxFaces: 20 });
  assert.equal(out.faces.length, 2);
  assert.ok(out.faces[0]!.box[2] >= out.faces[1]!.box[2], 'largest first');
  for (const f of out.faces) assert.ok(f.age >= 18 && f.age <= 55, `adult age ${f.age}`);
  const none = await estimateAges({ image: COFFEE, minConfidence: 0.25, maxFaces: 20 });
  assert.deepEqual(none.faces, []);
});

test('age groups: boundaries, confidence as the share of the estimate’s spread inside the group', () => {
  assert.equal(ageGroupOf(1).ageGroup, '0-2');
  assert.equal(ageGroupOf(9.9).ageGroup, '3-9');
  assert.equal(ageGroupOf(10).ageGroup, '10-19');
  assert.equal(ageGroupOf(29.3).ageGroup, '20-29');
  assert.equal(ageGroupOf(85).ageGroup, 'more than 70');
  assert.ok(ageGroupOf(25).confidence > ageGroupOf(29.5).confidence, 'mid-group is surer than the edge');
  assert.ok(ageGroupOf(90).confidence > 99);
  const data = ageStructuredData(
    [
      { age: 31, score: 0.9, box: [10, 10, 50, 50] },
      { age: 8, score: 0.8, box: [100, 10, 20, 20] },
    ],
    200,
    100,
  );
  assert.equal(data['ageGroup'], '30-39');
  assert.equal((data['faces'] as unknown[]).length, 2);
  assert.deepEqual(ageStructuredData([], 10, 10), { ageGroup: null, confidence: 0, faces: [] });
});

test('convex hull of a square and its centre is the square', () => {
  assert.equal(
    convexHull([
      [0, 0],
      [2, 0],
      [1, 1],
      [2, 2],
      [0, 2],
    ]).length,
    4,
  );
});

guardOpenHandles();
