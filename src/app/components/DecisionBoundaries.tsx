import { useEffect, useMemo, useRef } from 'react';
import type { ModelSpec } from '../../core/learn/models.ts';
import { predictProba } from '../lib/mlp.ts';
import { cancelDraw, drawSoon } from '../lib/frameQueue.ts';
import { classColor, rgbOf } from '../palette.ts';
import { drawOwnPoints, drawShardPoints, planeScale, type Extent, type PointSet } from '../lib/plotPoints.ts';

export type { PointSet };

const GRID = 48;
const MAX_PANELS = 12;

function extentOf(sets: PointSet[]): Extent {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const s of sets)
    for (let i = 0; i < s.n; i++) {
      x0 = Math.min(x0, s.x[2 * i]);
      x1 = Math.max(x1, s.x[2 * i]);
      y0 = Math.min(y0, s.x[2 * i + 1]);
      y1 = Math.max(y1, s.x[2 * i + 1]);
    }
  if (!Number.isFinite(x0)) return { x0: -1.5, x1: 1.5, y0: -1.5, y1: 1.5 };
  const mx = (x1 - x0) * 0.08 + 1e-3;
  const my = (y1 - y0) * 0.08 + 1e-3;
  return { x0: x0 - mx, x1: x1 + mx, y0: y0 - my, y1: y1 + my };
}

/**
 * Each node's model as a heatmap over the plane (colour: predicted class, paleness:
 * uncertainty) with that node's own training points on top. Pure-JS forward pass over the
 * node's flat parameters; only for the 2-D `mlp` model. `own`: points a student placed by hand
 * (drawn as diamonds, apart from the generated discs).
 */
export function DecisionBoundaries({ spec, params, shards, own, ids, round, testId = 'boundaries' }: {
  spec: ModelSpec;
  params: (Float32Array | null)[];
  shards: PointSet[];
  own?: (PointSet | null)[];
  ids: string[];
  round: number;
  testId?: string;
}) {
  const extent = useMemo(() => extentOf([...shards, ...(own ?? []).filter((p): p is PointSet => p !== null)]), [shards, own]);
  const grid = useMemo(() => {
    const g = new Float32Array(GRID * GRID * 2);
    for (let r = 0; r < GRID; r++)
      for (let c = 0; c < GRID; c++) {
        g[(r * GRID + c) * 2] = extent.x0 + ((c + 0.5) / GRID) * (extent.x1 - extent.x0);
        g[(r * GRID + c) * 2 + 1] = extent.y1 - ((r + 0.5) / GRID) * (extent.y1 - extent.y0);
      }
    return g;
  }, [extent]);
  const shown = Math.min(MAX_PANELS, shards.length);
  return (
    <figure className="boundaries" data-testid={testId} data-panels={params.slice(0, shown).filter(Boolean).length}>
      <figcaption className="chart-head">
        <span className="chart-title">Decision boundaries, round {round}</span>
        <span className="muted small-text">
          each node's model over its own points{shards.length > shown ? ` (first ${shown} of ${shards.length} nodes)` : ''}
          {own?.some((p) => p && p.n > 0) ? '; ◆ points placed by hand' : ''}
        </span>
      </figcaption>
      <div className="boundary-grid">
        {Array.from({ length: shown }, (_, i) => (
          <Panel key={i} id={ids[i] ?? `n${i}`} spec={spec} params={params[i] ?? null} points={shards[i]} own={own?.[i] ?? null} grid={grid} extent={extent} />
        ))}
      </div>
    </figure>
  );
}

function Panel({ id, spec, params, points, own, grid, extent }: { id: string; spec: ModelSpec; params: Float32Array | null; points: PointSet; own: PointSet | null; grid: Float32Array; extent: Extent }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const cv = canvas.current;
    if (!cv) return;
    drawSoon(cv, () => drawPanel(cv, spec, params, points, own, grid, extent));
    return () => cancelDraw(cv);
  }, [spec, params, points, own, grid, extent]);
  return (
    <div className="boundary">
      <canvas ref={canvas} width={160} height={160} role="img" aria-label={`decision boundary of ${id}${params ? '' : ' (no model yet)'}${own?.n ? ` with ${own.n} points placed by hand` : ''}`} data-own-points={own?.n ?? 0} />
      <span>{id}</span>
    </div>
  );
}

/** One node's heatmap and points (a few milliseconds: a forward pass over the grid). */
function drawPanel(cv: HTMLCanvasElement, spec: ModelSpec, params: Float32Array | null, points: PointSet, own: PointSet | null, grid: Float32Array, extent: Extent): void {
  const size = cv.width;
  const g = cv.getContext('2d')!;
  g.fillStyle = '#f3f4f6';
  g.fillRect(0, 0, size, size);
  const proba = params ? predictProba(spec, params, grid, GRID * GRID) : null;
  if (proba) {
    const img = new ImageData(GRID, GRID);
    const k = spec.numClasses;
    const colors = Array.from({ length: k }, (_, c) => rgbOf(classColor(c)));
    for (let p = 0; p < GRID * GRID; p++) {
      let r = 0;
      let gg = 0;
      let b = 0;
      let best = 0;
      for (let c = 0; c < k; c++) {
        const w = proba[p * k + c];
        r += w * colors[c][0];
        gg += w * colors[c][1];
        b += w * colors[c][2];
        best = Math.max(best, w);
      }
      // Confident regions are stronger; uncertain ones fade to white.
      const s = 0.25 + 0.45 * Math.max(0, (best - 1 / k) / (1 - 1 / k));
      img.data[p * 4] = 255 - s * (255 - r);
      img.data[p * 4 + 1] = 255 - s * (255 - gg);
      img.data[p * 4 + 2] = 255 - s * (255 - b);
      img.data[p * 4 + 3] = 255;
    }
    const off = new OffscreenCanvas(GRID, GRID);
    off.getContext('2d')!.putImageData(img, 0, 0);
    g.imageSmoothingEnabled = true;
    g.drawImage(off, 0, 0, size, size);
  }
  const scale = planeScale(extent, size);
  drawShardPoints(g, points, scale);
  if (own) drawOwnPoints(g, own, scale);
}
