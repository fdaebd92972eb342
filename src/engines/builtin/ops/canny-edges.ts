// Canny edge detection on a greyscale image, the way OpenCV's Canny does it with its defaults
// (3×3 Sobel, L1 gradient magnitude, no smoothing beforehand): non-maximum suppression along the
// gradient, then hysteresis between the low and the high threshold. Pure code, no model.

/** 255 where an edge runs, 0 elsewhere; `grey` is width×height, one byte per pixel. */
export function cannyEdges(grey: Uint8Array, width: number, height: number, low: number, high: number): Uint8Array {
  const n = width * height;
  const magnitude = new Float32Array(n);
  const sector = new Uint8Array(n); // 0: horizontal gradient, 1: 45°, 2: vertical, 3: 135°
  const at = (x: number, y: number) =>
    grey[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))]!;
  const tan22 = Math.tan(Math.PI / 8);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const gx =
        at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy =
        at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      const i = y * width + x;
      magnitude[i] = Math.abs(gx) + Math.abs(gy);
      const ax = Math.abs(gx);
      const ay = Math.abs(gy);
      sector[i] = ay <= ax * tan22 ? 0 : ax <= ay * tan22 ? 2 : gx > 0 === gy > 0 ? 1 : 3;
    }
  }
  // Non-maximum suppression: keep a pixel only where it is the ridge across the edge.
  const strong = 2;
  const weak = 1;
  const kind = new Uint8Array(n);
  const neighbours: readonly [number, number][] = [
    [1, 0],
    [1, 1],
    [0, 1],
    [-1, 1],
  ];
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const m = magnitude[i]!;
      if (m <= low) continue;
      const [dx, dy] = neighbours[sector[i]!]!;
      const before = magnitude[(y - dy) * width + (x - dx)]!;
      const after = magnitude[(y + dy) * width + (x + dx)]!;
      if (m > before && m >= after) kind[i] = m > high ? strong : weak;
    }
  }
  // Hysteresis: weak pixels become edges when 8-connected to a strong one.
  const edges = new Uint8Array(n);
  const stack: number[] = [];
  for (let i = 0; i < n; i++) {
    if (kind[i] === strong && edges[i] === 0) {
      edges[i] = 255;
      stack.push(i);
      while (stack.length > 0) {
        const j = stack.pop()!;
        const jx = j % width;
        const jy = (j - jx) / width;
        for (let oy = -1; oy <= 1; oy++) {
          for (let ox = -1; ox <= 1; ox++) {
            const nx = jx + ox;
            const ny = jy + oy;
            if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
            const k = ny * width + nx;
            if (edges[k] === 0 && kind[k] !== 0) {
              edges[k] = 255;
              stack.push(k);
            }
          }
        }
      }
    }
  }
  return edges;
}
