import { classColor } from '../palette.ts';

/** Labelled 2-D points: `x` holds (x, y) pairs, `y` the classes. */
export interface PointSet {
  x: Float32Array;
  y: Uint8Array;
  n: number;
}

/** The plane's visible rectangle, in data coordinates. */
export interface Extent {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** Data coordinates → pixels on a `size`×`size` canvas (y up), and back. */
export function planeScale(extent: Extent, size: number) {
  return {
    sx: (v: number) => ((v - extent.x0) / (extent.x1 - extent.x0)) * size,
    sy: (v: number) => ((extent.y1 - v) / (extent.y1 - extent.y0)) * size,
    fromPixel: (px: number, py: number): [number, number] => [extent.x0 + (px / size) * (extent.x1 - extent.x0), extent.y1 - (py / size) * (extent.y1 - extent.y0)],
  };
}

type Scale = ReturnType<typeof planeScale>;

/**
 * Generated training points: small discs with a white rim, at most about `limit` of them. All
 * discs of a class are one path, filled and stroked once: a fill and a stroke per disc made a
 * 100-point panel cost several milliseconds of canvas calls.
 */
export function drawShardPoints(g: CanvasRenderingContext2D, points: PointSet, { sx, sy }: Scale, limit = 400, alpha = 1): void {
  const step = Math.max(1, Math.floor(points.n / limit));
  const r = 2.6;
  const classes = new Set<number>();
  for (let i = 0; i < points.n; i += step) classes.add(points.y[i]);
  g.save();
  g.globalAlpha = alpha;
  g.lineWidth = 0.8;
  g.strokeStyle = '#ffffff';
  for (const c of classes) {
    g.beginPath();
    for (let i = 0; i < points.n; i += step) {
      if (points.y[i] !== c) continue;
      const x = sx(points.x[2 * i]);
      const y = sy(points.x[2 * i + 1]);
      g.moveTo(x + r, y);
      g.arc(x, y, r, 0, 2 * Math.PI);
    }
    g.fillStyle = classColor(c);
    g.fill();
    g.stroke();
  }
  g.restore();
}

/** A student's own points: larger diamonds with a dark rim, so they stand out from generated ones. */
export function drawOwnPoints(g: CanvasRenderingContext2D, points: PointSet, { sx, sy }: Scale, r = 5): void {
  g.save();
  g.lineWidth = 1.5;
  g.strokeStyle = '#1b2a41';
  for (let i = 0; i < points.n; i++) {
    const x = sx(points.x[2 * i]);
    const y = sy(points.x[2 * i + 1]);
    g.beginPath();
    g.moveTo(x, y - r);
    g.lineTo(x + r, y);
    g.lineTo(x, y + r);
    g.lineTo(x - r, y);
    g.closePath();
    g.fillStyle = classColor(points.y[i]);
    g.fill();
    g.stroke();
  }
  g.restore();
}
