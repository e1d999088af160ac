import { useEffect, useRef } from 'react';

/** One message edge in the topology's 400 × 400 coordinates, already trimmed to the node circles. */
export interface EdgeLine {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** Carries a model: drawn darker and thicker. */
  model: boolean;
}

/** The dashes flow for this long after the edges change, then stand still until the next change. */
const FLOW_MS = 3000;
/** Dash pattern and speed of the flow (20 units per 0.8 s, as the old CSS animation). */
const DASH = [6, 4];
const FLOW_PER_MS = 20 / 800;
const FADE_IN_MS = 300;

/**
 * The topology's message edges on a canvas under the nodes' SVG. As SVG elements each dashed,
 * animated line made the browser restyle and repaint the whole picture every frame: with 50
 * nodes that was most of the compare view's main-thread time. Here every edge of a kind is one
 * path, the flow animates only while the picture is on screen and for a few seconds after the
 * edges change, and with reduced motion the dashes stand still.
 */
export function TopologyEdges({ lines, size, version }: { lines: EdgeLine[]; size: number; version: string | number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const visible = useRef(true);
  const frame = useRef(0);
  const box = useRef<{ w: number; h: number } | null>(null);

  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const reduced = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;
    const since = performance.now();
    const draw = (t: number) => {
      frame.current = 0;
      const age = t - since;
      if (!box.current) box.current = { w: c.clientWidth, h: c.clientHeight };
      paint(c, box.current, lines, size, reduced ? 0 : age * FLOW_PER_MS, Math.min(1, age / FADE_IN_MS));
      if (!reduced && visible.current && document.visibilityState === 'visible' && (age < FLOW_MS || age < FADE_IN_MS)) frame.current = requestAnimationFrame(draw);
    };
    const kick = () => {
      if (!frame.current) frame.current = requestAnimationFrame(draw);
    };
    kick();
    const seen = typeof IntersectionObserver === 'undefined' ? null : new IntersectionObserver(([e]) => {
      visible.current = e.isIntersecting;
      if (visible.current) kick();
    });
    seen?.observe(c);
    // The canvas's CSS size, kept from the last resize: reading clientWidth in every frame forced
    // a style and layout pass right after each React commit (10–20 ms at 50 nodes).
    const resized = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(([e]) => {
      box.current = { w: e.contentRect.width, h: e.contentRect.height };
      kick();
    });
    resized?.observe(c);
    document.addEventListener('visibilitychange', kick);
    return () => {
      seen?.disconnect();
      resized?.disconnect();
      document.removeEventListener('visibilitychange', kick);
      cancelAnimationFrame(frame.current);
      frame.current = 0;
    };
    // `version` restarts the flow (a new round); `lines` redraws.
  }, [lines, size, version]);

  return <canvas ref={canvas} className="topo-edges" aria-hidden />;
}

function paint(c: HTMLCanvasElement, { w, h }: { w: number; h: number }, lines: EdgeLine[], size: number, offset: number, alpha: number): void {
  const dpr = window.devicePixelRatio || 1;
  if (w === 0 || h === 0) return;
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
  }
  const g = c.getContext('2d');
  if (!g) return;
  const k = (Math.min(w, h) / size) * dpr;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.setTransform(k, 0, 0, k, ((w - (size * k) / dpr) / 2) * dpr, ((h - (size * k) / dpr) / 2) * dpr);
  g.globalAlpha = 0.75 * alpha;
  g.setLineDash(DASH);
  g.lineDashOffset = -offset;
  for (const model of [false, true]) {
    const colour = model ? '#1b2a41' : '#5b6b82';
    g.strokeStyle = colour;
    g.lineWidth = model ? 1.8 : 1;
    g.beginPath();
    for (const l of lines) {
      if (l.model !== model) continue;
      g.moveTo(l.x1, l.y1);
      g.lineTo(l.x2, l.y2);
    }
    g.stroke();
    // Arrowheads at the receiving end, all of a kind in one path.
    g.fillStyle = colour;
    g.beginPath();
    for (const l of lines) {
      if (l.model !== model) continue;
      const d = Math.hypot(l.x2 - l.x1, l.y2 - l.y1) || 1;
      const ux = (l.x2 - l.x1) / d;
      const uy = (l.y2 - l.y1) / d;
      const len = 5;
      g.moveTo(l.x2, l.y2);
      g.lineTo(l.x2 - ux * len - uy * len * 0.5, l.y2 - uy * len + ux * len * 0.5);
      g.lineTo(l.x2 - ux * len + uy * len * 0.5, l.y2 - uy * len - ux * len * 0.5);
      g.closePath();
    }
    g.fill();
  }
}
