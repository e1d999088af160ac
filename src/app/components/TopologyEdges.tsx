import { useEffect, useRef } from 'react';
import { clearedContext, watchCanvasSize, type Box } from '../lib/canvasSize.ts';

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
 * The flow is drawn at most this often. Every frame it was, with a 50-node compare run changing the
 * edges ten times a second and so never letting the flow stop, a canvas upload and a compositor
 * commit each frame (~5 ms at 60 frames a second); at 20 the dashes still move smoothly.
 */
const FLOW_FPS = 20;
/** How long a change animates at all: the flow, and the fade-in within it. */
const ANIMATED_MS = Math.max(FLOW_MS, FADE_IN_MS);

/**
 * The topology's message edges on a canvas under the nodes' SVG. As SVG elements each dashed,
 * animated line made the browser restyle and repaint the whole picture every frame: with 50
 * nodes that was most of the compare view's main-thread time. Here every edge of a kind is one
 * path, the flow animates only while the picture is on screen and for a few seconds after the
 * edges change, and with reduced motion the dashes stand still.
 */
export function TopologyEdges({ lines, size, version }: { lines: EdgeLine[]; size: number; version: string | number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  // What the loop below draws, and since when the flow runs.
  const shown = useRef({ lines, size, since: 0 });
  const wake = useRef(() => {});

  // The drawing loop and its observers live as long as the canvas. Set up again on every update,
  // as they were, they cost an intersection and a resize observation per round: hundreds a
  // minute in a 50-node compare run.
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const reduced = window.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;
    let frame = 0;
    let visible = true;
    let painted: { at: number; of: unknown } = { at: -Infinity, of: null };
    const draw = (t: number) => {
      frame = 0;
      const { lines: ls, size: sz, since } = shown.current;
      const age = t - since;
      // New edges or a new size are drawn at once; only the flow's next step waits its turn.
      if (painted.of !== shown.current || t - painted.at >= 1000 / FLOW_FPS - 2 || age >= ANIMATED_MS) {
        paint(c, sized.size(), ls, sz, reduced ? 0 : age * FLOW_PER_MS, Math.min(1, age / FADE_IN_MS));
        painted = { at: t, of: shown.current };
      }
      if (!reduced && visible && document.visibilityState === 'visible' && age < ANIMATED_MS) frame = requestAnimationFrame(draw);
    };
    const kick = () => {
      if (!frame) frame = requestAnimationFrame(draw);
    };
    wake.current = kick;
    const seen = typeof IntersectionObserver === 'undefined' ? null : new IntersectionObserver(([e]) => {
      visible = e.isIntersecting;
      if (visible) kick();
    });
    seen?.observe(c);
    const sized = watchCanvasSize(c, () => {
      painted = { at: -Infinity, of: null };
      kick();
    });
    document.addEventListener('visibilitychange', kick);
    kick();
    return () => {
      seen?.disconnect();
      sized.stop();
      document.removeEventListener('visibilitychange', kick);
      cancelAnimationFrame(frame);
      wake.current = () => {};
    };
  }, []);

  // New edges (or a new round: `version`) redraw and restart the flow.
  useEffect(() => {
    shown.current = { lines, size, since: performance.now() };
    wake.current();
  }, [lines, size, version]);

  return <canvas ref={canvas} className="topo-edges" aria-hidden />;
}

function paint(c: HTMLCanvasElement, { w, h }: Box, lines: EdgeLine[], size: number, offset: number, alpha: number): void {
  const ready = clearedContext(c, { w, h });
  if (!ready) return;
  const { g, dpr } = ready;
  const k = (Math.min(w, h) / size) * dpr;
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
