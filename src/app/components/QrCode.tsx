import { useMemo } from 'react';
import { encode } from 'uqr';

/**
 * A QR code as an inline SVG: one <rect> per horizontal run of dark modules, crisp at any
 * size (a projector, a phone held up to the screen). `border` is the quiet zone in modules.
 */
export function QrCode({ text, label, testId, border = 4 }: { text: string; label: string; testId?: string; border?: number }) {
  const { size, runs } = useMemo(() => {
    const qr = encode(text, { ecc: 'M', border });
    const out: { x: number; y: number; w: number }[] = [];
    qr.data.forEach((row, y) => {
      for (let x = 0; x < row.length; x++) {
        if (!row[x]) continue;
        let end = x;
        while (end + 1 < row.length && row[end + 1]) end++;
        out.push({ x, y, w: end - x + 1 });
        x = end;
      }
    });
    return { size: qr.size, runs: out };
  }, [text, border]);
  return (
    <svg className="qr" viewBox={`0 0 ${size} ${size}`} role="img" aria-label={label} data-testid={testId} shapeRendering="crispEdges">
      <rect width={size} height={size} fill="#fff" />
      {runs.map((r) => (
        <rect key={`${r.x},${r.y}`} x={r.x} y={r.y} width={r.w} height={1} fill="#000" />
      ))}
    </svg>
  );
}
