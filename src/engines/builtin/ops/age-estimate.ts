// Operation `age-estimate`: an age in years for each face, from Human's face description model
// (FaceRes), after BlazeFace finds the faces and the face mesh aligns them.

import type { Availability } from '../operation.js';
import { humanAvailability, type Box } from './human-files.js';

export interface AgeEstimateInput {
  image: Uint8Array;
  /** Faces scoring lower (0–1) are left out. */
  minConfidence: number;
  maxFaces: number;
}

export interface FaceAge {
  age: number;
  /** The face detector's score, 0–1. */
  score: number;
  box: Box;
}

export interface AgeEstimateOutput {
  width: number;
  height: number;
  /** Largest face first. */
  faces: FaceAge[];
}

declare module './op-table.js' {
  interface OpTable {
    'age-estimate': { input: AgeEstimateInput; output: AgeEstimateOutput };
  }
}

export function availability(): Availability {
  return humanAvailability();
}

export async function run(input: AgeEstimateInput): Promise<AgeEstimateOutput> {
  const { detectPeople } = await import('./human-runtime.js');
  const found = await detectPeople(input.image, {
    faces: true,
    age: true,
    minConfidence: input.minConfidence,
    maxDetected: input.maxFaces,
  });
  const faces = found.faces
    .filter((f): f is typeof f & { age: number } => f.age !== null && f.score >= input.minConfidence)
    .map((f) => ({ age: f.age, score: f.score, box: f.box }))
    .sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
  return { width: found.width, height: found.height, faces };
}
