/** Okabe–Ito: distinguishable with the common colour-vision deficiencies. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

/** Classes beyond Okabe–Ito's eight: two more from Paul Tol's muted scheme (still CVD-safe next to them). */
export const CLASS_PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#332288', '#999933', '#882255'];

export const colorFor = (i: number): string => PALETTE[i % PALETTE.length];
export const classColor = (c: number): string => CLASS_PALETTE[c % CLASS_PALETTE.length];

/** Colour for node i when many nodes share a chart: the palette, skipping black and yellow (poor on white). */
const NODE_COLORS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00'];
export const nodeColor = (i: number): string => NODE_COLORS[i % NODE_COLORS.length];

/** '#rrggbb' → 'rgba(r,g,b,a)'. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

export function rgbOf(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}
