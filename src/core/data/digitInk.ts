import { MNIST_FEATURES } from './mnist.ts';

/**
 * A hand-drawn digit made to look like an MNIST row, the way MNIST itself was made (LeCun et
 * al.): the ink's bounding box is scaled to fit a 20×20 box, aspect ratio kept, with grey levels
 * from area averaging; then the digit is placed in the 28×28 field so that its centre of mass
 * lands on the centre (moved by whole pixels, so strokes stay sharp). Values are 0 (background)
 * to 1 (ink), like `pixelsToFloat` of an MNIST image.
 */

const SIDE = 28;
const BOX = 20;
const CENTRE = SIDE / 2 + 0.5;
/** Ink below this counts as background when finding the bounding box (anti-aliased fringes). */
const INK_THRESHOLD = 0.05;

/**
 * `ink`: a square grid of `size`×`size` ink values in [0, 1], row-major (e.g. a drawing
 * canvas's alpha channel / 255). Returns 784 floats, or null when nothing is drawn.
 */
export function mnistFromInk(ink: Float32Array, size: number): Float32Array | null {
  if (ink.length !== size * size) throw new RangeError(`${ink.length} ink values for a ${size}×${size} grid`);
  let x0 = size;
  let x1 = -1;
  let y0 = size;
  let y1 = -1;
  for (let r = 0; r < size; r++)
    for (let c = 0; c < size; c++)
      if (ink[r * size + c] > INK_THRESHOLD) {
        x0 = Math.min(x0, c);
        x1 = Math.max(x1, c);
        y0 = Math.min(y0, r);
        y1 = Math.max(y1, r);
      }
  if (x1 < 0) return null;
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const scale = BOX / Math.max(w, h); // output pixels per input pixel
  // The box, centred geometrically first; the centre of mass decides the final place.
  const ox = (SIDE - w * scale) / 2;
  const oy = (SIDE - h * scale) / 2;
  const out = new Float32Array(MNIST_FEATURES);
  for (let v = 0; v < SIDE; v++)
    for (let u = 0; u < SIDE; u++) {
      const xa = x0 + (u - ox) / scale;
      const xb = x0 + (u + 1 - ox) / scale;
      const ya = y0 + (v - oy) / scale;
      const yb = y0 + (v + 1 - oy) / scale;
      out[v * SIDE + u] = Math.min(1, areaMean(ink, size, Math.max(xa, x0), Math.min(xb, x1 + 1), Math.max(ya, y0), Math.min(yb, y1 + 1), (xb - xa) * (yb - ya)));
    }
  return centreOfMassShift(out);
}

/** The ink over [xa, xb) × [ya, yb) of the input, divided by `area` (the whole output pixel's footprint). */
function areaMean(ink: Float32Array, size: number, xa: number, xb: number, ya: number, yb: number, area: number): number {
  if (xb <= xa || yb <= ya) return 0;
  let sum = 0;
  for (let r = Math.floor(ya); r < Math.ceil(yb); r++) {
    const fy = Math.min(yb, r + 1) - Math.max(ya, r);
    for (let c = Math.floor(xa); c < Math.ceil(xb); c++) {
      const fx = Math.min(xb, c + 1) - Math.max(xa, c);
      sum += ink[r * size + c] * fx * fy;
    }
  }
  return sum / area;
}

/** Moves the digit by whole pixels so its centre of mass is at the field's centre, never pushing ink off the field. */
function centreOfMassShift(img: Float32Array): Float32Array {
  let mass = 0;
  let mx = 0;
  let my = 0;
  let c0 = SIDE;
  let c1 = -1;
  let r0 = SIDE;
  let r1 = -1;
  for (let r = 0; r < SIDE; r++)
    for (let c = 0; c < SIDE; c++) {
      const v = img[r * SIDE + c];
      if (v <= 0) continue;
      mass += v;
      mx += v * (c + 0.5);
      my += v * (r + 0.5);
      c0 = Math.min(c0, c);
      c1 = Math.max(c1, c);
      r0 = Math.min(r0, r);
      r1 = Math.max(r1, r);
    }
  if (mass === 0) return img;
  // MNIST's centre is pixel 14 (0-based), i.e. 14.5 in the pixel-centre coordinates used here.
  const dx = clamp(Math.round(CENTRE - mx / mass), -c0, SIDE - 1 - c1);
  const dy = clamp(Math.round(CENTRE - my / mass), -r0, SIDE - 1 - r1);
  if (dx === 0 && dy === 0) return img;
  const out = new Float32Array(MNIST_FEATURES);
  for (let r = r0; r <= r1; r++)
    for (let c = c0; c <= c1; c++) out[(r + dy) * SIDE + c + dx] = img[r * SIDE + c];
  return out;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}
