/** A canvas's CSS size in pixels. */
export interface Box {
  w: number;
  h: number;
}

/**
 * Follows a canvas's CSS size with a ResizeObserver, for drawing loops that run every frame:
 * reading `clientWidth` there forces a style and layout pass whenever React has just changed
 * the page (10–20 ms at 50 nodes). `size()` reads the layout once, before the first observation.
 */
export function watchCanvasSize(c: HTMLCanvasElement, onResize?: () => void): { size: () => Box; stop: () => void } {
  let box: Box | null = null;
  const observer = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(([e]) => {
    box = { w: e.contentRect.width, h: e.contentRect.height };
    onResize?.();
  });
  observer?.observe(c);
  return {
    size: () => (box ??= { w: c.clientWidth, h: c.clientHeight }),
    stop: () => observer?.disconnect(),
  };
}

/**
 * Fits the canvas's backing store to `box` at the device pixel ratio and clears it; returns its
 * context scaled to CSS pixels, or null when there is nothing to draw on.
 */
export function clearedContext(c: HTMLCanvasElement, { w, h }: Box): { g: CanvasRenderingContext2D; dpr: number } | null {
  if (w === 0 || h === 0) return null;
  const dpr = window.devicePixelRatio || 1;
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
  }
  const g = c.getContext('2d');
  if (!g) return null;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  return { g, dpr };
}
