import { useEffect, useRef } from 'react';
import type { RoomView, RoomWatcher } from '../../live/spectator/roomWatcher.ts';
import { clearedContext, watchCanvasSize, type Box } from '../lib/canvasSize.ts';

/** How long a transfer's dot takes to travel from sender to receiver. */
const TRAVEL_MS = 900;
const STATE_COLOURS: Record<string, string> = {
  training: '#f59e0b',
  aggregating: '#8b5cf6',
  waiting: '#3b82f6',
  done: '#16a34a',
  error: '#dc2626',
  idle: '#9ca3af',
};

/** Frame intervals of the last few seconds, for `window.murmuration.frames()` (smoothness tests). */
export const frameTimes: number[] = [];

/**
 * The whole room as one picture: every node a dot on a circle, coloured by its state and sized
 * by its accuracy; every reported transfer a dot travelling from sender to receiver as it
 * happens. Drawn on a canvas each animation frame from the watcher's data, outside React, so a
 * room of 50 tabs stays smooth.
 */
export function SwarmPicture({ watcher, view, coordinated, testId }: { watcher: RoomWatcher; view: RoomView; coordinated: boolean; testId?: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const latest = useRef({ view, coordinated });
  useEffect(() => {
    latest.current = { view, coordinated };
  }, [view, coordinated]);
  useEffect(() => {
    let frame = 0;
    let last = performance.now();
    // What the canvas shows now: it is repainted only when that changes or a transfer is in flight,
    // so a projector left on an idle room does not redraw 60 times a second for nothing.
    let shown: { view: RoomView; coordinated: boolean; width: number; height: number } | null = null;
    const sized = canvas.current ? watchCanvasSize(canvas.current) : null;
    const draw = (t: number) => {
      frameTimes.push(t - last);
      if (frameTimes.length > 600) frameTimes.splice(0, frameTimes.length - 600);
      last = t;
      const c = canvas.current;
      const box = sized?.size();
      const { view: v, coordinated: co } = latest.current;
      const newest = watcher.recent[watcher.recent.length - 1];
      const moving = newest !== undefined && Date.now() - newest.at <= TRAVEL_MS;
      if (c && box && (moving || !shown || shown.view !== v || shown.coordinated !== co || shown.width !== box.w || shown.height !== box.h)) {
        paint(c, box, v, co, watcher);
        shown = { view: v, coordinated: co, width: box.w, height: box.h };
      }
      frame = requestAnimationFrame(draw);
    };
    frame = requestAnimationFrame(draw);
    return () => {
      cancelAnimationFrame(frame);
      sized?.stop();
    };
  }, [watcher]);
  return <canvas ref={canvas} className="swarm-picture" data-testid={testId} aria-label={`${view.nodes.length} tabs and the models they send`} />;
}

function paint(c: HTMLCanvasElement, { w, h }: Box, view: RoomView, coordinated: boolean, watcher: RoomWatcher): void {
  const g = clearedContext(c, { w, h })?.g;
  if (!g) return;
  const n = view.nodes.length;
  if (n === 0) return;
  const cx = w / 2;
  const cy = h / 2;
  const r = Math.min(w, h) / 2 - 40;
  const pos = new Map<string, [number, number]>();
  view.nodes.forEach((node, i) => {
    const a = (2 * Math.PI * i) / n - Math.PI / 2;
    pos.set(node.id, [cx + r * Math.cos(a), cy + r * Math.sin(a)]);
  });
  // Pairs that exchanged models this run: faint lines, thicker with more frames. A long run links
  // most of the ~2,450 pairs of 50 nodes, so lines of one width (to a quarter pixel) are one path:
  // a stroke per pair made every frame with a transfer in flight a long task.
  g.strokeStyle = 'rgba(100,116,139,0.18)';
  const byWidth = new Map<number, [number, number, number, number][]>();
  for (const e of view.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const width = Math.round(4 * Math.min(4, 0.5 + Math.log10(1 + e.frames))) / 4;
    let lines = byWidth.get(width);
    if (!lines) byWidth.set(width, (lines = []));
    lines.push([a[0], a[1], b[0], b[1]]);
  }
  for (const [width, lines] of byWidth) {
    g.lineWidth = width;
    g.beginPath();
    for (const [x1, y1, x2, y2] of lines) {
      g.moveTo(x1, y1);
      g.lineTo(x2, y2);
    }
    g.stroke();
  }
  // Transfers in flight: only the recent ones are visible, so only those are drawn, in one path.
  const now = Date.now();
  g.fillStyle = '#0ea5e9';
  g.beginPath();
  for (let i = watcher.recent.length - 1; i >= 0; i--) {
    const t = watcher.recent[i];
    const p = (now - t.at) / TRAVEL_MS;
    if (p > 1) break;
    const a = pos.get(t.from);
    const b = pos.get(t.to);
    if (!a || !b || p < 0) continue;
    const x = a[0] + (b[0] - a[0]) * p;
    const y = a[1] + (b[1] - a[1]) * p;
    g.moveTo(x + 4, y);
    g.arc(x, y, 4, 0, 2 * Math.PI);
  }
  g.fill();
  const labels = n <= 24;
  g.font = '12px system-ui, sans-serif';
  g.textAlign = 'center';
  for (const node of view.nodes) {
    const [x, y] = pos.get(node.id)!;
    const radius = 6 + 14 * (node.accuracy ?? 0);
    g.beginPath();
    g.arc(x, y, radius, 0, 2 * Math.PI);
    g.fillStyle = view.paused || node.paused ? '#cbd5e1' : (STATE_COLOURS[node.state] ?? STATE_COLOURS.idle);
    g.fill();
    // Only algorithms with a server have a coordinator worth ringing (the room names one for every run).
    if (coordinated && node.id === view.coordinator) {
      g.lineWidth = 2;
      g.strokeStyle = '#111827';
      g.stroke();
    }
    if (node.attacker) {
      // The same mark as the topology view: the class sees who poisons the swarm.
      g.fillStyle = '#b91c1c';
      g.fillText('⚠', x + radius, y - radius);
    }
    if (labels) {
      g.fillStyle = '#111827';
      g.fillText(node.name, x, y + radius + 13);
    }
  }
}

export const STATE_LEGEND = Object.entries(STATE_COLOURS);
