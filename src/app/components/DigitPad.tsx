import { useEffect, useRef, useState } from 'react';
import { mnistFromInk } from '../../core/data/digitInk.ts';

/** Drawing resolution: eight screen pixels per MNIST pixel, reduced to 28×28 as MNIST was. */
const PAD = 224;
const BRUSHES = { thin: 12, medium: 18, thick: 26 } as const;
type Brush = keyof typeof BRUSHES;

/**
 * A pad to draw one digit with the mouse, a pen or a finger, and its label. "Add" turns the
 * drawing into an MNIST-like row (mnistFromInk: fitted to 20×20, centred by mass, 0..1) and
 * shows it as the model will see it.
 */
export function DigitPad({ full, onAdd }: { full: boolean; onAdd: (pixels: Float32Array, label: number) => void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const drawing = useRef<{ x: number; y: number } | null>(null);
  const [label, setLabel] = useState(0);
  const [brush, setBrush] = useState<Brush>('medium');
  const [preview, setPreview] = useState<Float32Array | null>(null);

  const ctx = () => {
    const g = canvas.current!.getContext('2d', { willReadFrequently: true })!;
    g.lineCap = 'round';
    g.lineJoin = 'round';
    g.strokeStyle = '#1b2a41';
    g.fillStyle = '#1b2a41';
    g.lineWidth = BRUSHES[brush];
    return g;
  };
  const at = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    return { x: ((e.clientX - rect.left) / rect.width) * PAD, y: ((e.clientY - rect.top) / rect.height) * PAD };
  };
  /** The ink as the model's preprocessing reads it: the canvas's alpha channel (strokes are opaque, the pad transparent). */
  const readInk = (): Float32Array | null => {
    const data = canvas.current!.getContext('2d', { willReadFrequently: true })!.getImageData(0, 0, PAD, PAD).data;
    const ink = new Float32Array(PAD * PAD);
    for (let i = 0; i < ink.length; i++) ink[i] = data[i * 4 + 3] / 255;
    return mnistFromInk(ink, PAD);
  };
  const clear = () => {
    canvas.current!.getContext('2d')!.clearRect(0, 0, PAD, PAD);
    setPreview(null);
  };

  const down = (e: React.PointerEvent<HTMLCanvasElement>) => {
    e.currentTarget.setPointerCapture(e.pointerId);
    const p = at(e);
    drawing.current = p;
    const g = ctx();
    g.beginPath();
    g.arc(p.x, p.y, BRUSHES[brush] / 2, 0, 2 * Math.PI);
    g.fill();
  };
  const move = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const last = drawing.current;
    if (!last) return;
    const p = at(e);
    const g = ctx();
    g.beginPath();
    g.moveTo(last.x, last.y);
    g.lineTo(p.x, p.y);
    g.stroke();
    drawing.current = p;
  };
  const up = () => {
    if (!drawing.current) return;
    drawing.current = null;
    setPreview(readInk());
  };
  const add = () => {
    const pixels = readInk();
    if (!pixels || full) return;
    onAdd(pixels, label);
    clear();
  };

  return (
    <div className="digit-pad" data-testid="digit-pad">
      <div className="digit-draw">
        <canvas
          ref={canvas}
          width={PAD}
          height={PAD}
          className="digit-canvas"
          onPointerDown={down}
          onPointerMove={move}
          onPointerUp={up}
          onPointerCancel={up}
          role="img"
          aria-label="Drawing pad: draw one digit"
          data-testid="digit-canvas"
        />
        <div className="digit-side">
          <span className="muted small-text">The model sees</span>
          <DigitThumb pixels={preview} size={84} testId="digit-preview" />
        </div>
      </div>
      <div className="class-picker" role="radiogroup" aria-label="Which digit is it?">
        {Array.from({ length: 10 }, (_, d) => (
          <button key={d} type="button" role="radio" aria-checked={d === label} className={`small digit-label${d === label ? ' pressed' : ''}`} onClick={() => setLabel(d)} data-testid={`digit-label-${d}`}>
            {d}
          </button>
        ))}
      </div>
      <div className="controls">
        <label className="small-text">
          Brush{' '}
          <select value={brush} onChange={(e) => setBrush(e.target.value as Brush)} data-testid="digit-brush">
            {Object.keys(BRUSHES).map((b) => (
              <option key={b}>{b}</option>
            ))}
          </select>
        </label>
        <button type="button" className="small" onClick={clear} data-testid="digit-clear">
          Clear pad
        </button>
        <button type="button" className="small primary" onClick={add} disabled={!preview || full} data-testid="digit-add">
          Add as a {label}
        </button>
      </div>
    </div>
  );
}

/** A 28×28 row drawn as the model sees it (white ink on black, like MNIST), scaled up without smoothing. */
export function DigitThumb({ pixels, size = 42, testId }: { pixels: Float32Array | null; size?: number; testId?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const g = canvas.current?.getContext('2d');
    if (!g) return;
    const img = new ImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round((pixels?.[i] ?? 0) * 255);
      img.data[i * 4] = v;
      img.data[i * 4 + 1] = v;
      img.data[i * 4 + 2] = v;
      img.data[i * 4 + 3] = 255;
    }
    g.putImageData(img, 0, 0);
  }, [pixels]);
  return <canvas ref={canvas} width={28} height={28} className="digit-thumb" style={{ width: size, height: size }} data-testid={testId} />;
}
