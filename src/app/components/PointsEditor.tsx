import { useEffect, useRef, useState } from 'react';
import { classColor } from '../palette.ts';
import { drawOwnPoints, drawShardPoints, planeScale, type Extent, type PointSet } from '../lib/plotPoints.ts';

/** Fixed, so a click lands on the same spot whatever is drawn; every 2-D dataset here fits in ±1.5. */
const PLANE: Extent = { x0: -1.75, x1: 1.75, y0: -1.75, y1: 1.75 };
const SIZE = 280;

/**
 * The plane a student clicks points onto, one class at a time. The tab's generated shard shows
 * faintly for reference (discs); the student's points are diamonds, as in the decision-boundary view.
 */
export function PointsEditor({ numClasses, own, generated, full, onAdd }: {
  numClasses: number;
  own: PointSet;
  /** The tab's generated shard, once loaded; null before. */
  generated: PointSet | null;
  /** At the cap: clicks add nothing. */
  full: boolean;
  onAdd: (x: number, y: number, cls: number) => void;
}) {
  const [cls, setCls] = useState(0);
  const canvas = useRef<HTMLCanvasElement>(null);
  const scale = planeScale(PLANE, SIZE);
  useEffect(() => {
    const g = canvas.current?.getContext('2d');
    if (!g) return;
    g.fillStyle = '#f7f8fa';
    g.fillRect(0, 0, SIZE, SIZE);
    // Axes through the origin, for orientation.
    g.strokeStyle = '#dde3ea';
    g.beginPath();
    g.moveTo(scale.sx(0), 0);
    g.lineTo(scale.sx(0), SIZE);
    g.moveTo(0, scale.sy(0));
    g.lineTo(SIZE, scale.sy(0));
    g.stroke();
    if (generated) drawShardPoints(g, generated, scale, 300, 0.35);
    drawOwnPoints(g, own, scale, 6);
  }, [own, generated]); // eslint-disable-line react-hooks/exhaustive-deps

  const click = (e: React.MouseEvent<HTMLCanvasElement>) => {
    if (full) return;
    const rect = e.currentTarget.getBoundingClientRect();
    const [x, y] = scale.fromPixel(((e.clientX - rect.left) / rect.width) * SIZE, ((e.clientY - rect.top) / rect.height) * SIZE);
    onAdd(x, y, cls);
  };

  return (
    <div className="points-editor">
      <div className="class-picker" role="radiogroup" aria-label="Class of the next point">
        {Array.from({ length: numClasses }, (_, c) => (
          <button key={c} type="button" role="radio" aria-checked={c === cls} className={`small${c === cls ? ' pressed' : ''}`} onClick={() => setCls(c)} data-testid={`class-pick-${c}`}>
            <span className="class-dot" style={{ background: classColor(c) }} /> class {c}
          </button>
        ))}
      </div>
      <canvas
        ref={canvas}
        width={SIZE}
        height={SIZE}
        className="own-plane"
        onClick={click}
        role="img"
        aria-label={`The plane: click to add a point of class ${cls}. ${own.n} points placed.`}
        data-testid="points-plane"
      />
    </div>
  );
}
