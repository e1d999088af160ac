import { memo, useMemo, useState } from 'react';
import { TopologyEdges, type EdgeLine } from './TopologyEdges.tsx';
import { classColor } from '../palette.ts';

export interface TopoNode {
  id: string;
  label?: string;
  state: string;
  role?: string;
  /** Left the room or failed (churn): greyed. */
  failed?: boolean;
  self?: boolean;
  /** MoDeST: in the current round's sample. */
  sample?: boolean;
  /** MoDeST: an aggregator of the current round (FedAvg: the coordinator). */
  aggregator?: boolean;
  backend?: string;
  throughput?: string;
  accuracy?: number | null;
  histogram?: number[];
  /** A number the algorithm keeps per node (token: visits), drawn above the node; named by `countLabel`. */
  count?: number;
  /** This node sends poisoned models (byzantine=, or a tab's "this tab attacks"). */
  attacker?: boolean;
}

export interface TopoEdge {
  from: string;
  to: string;
  /** The message type, e.g. `modest/model`. */
  type: string;
  count: number;
  /** Carries a model (drawn thicker). */
  model: boolean;
}

const STATE_COLOR: Record<string, string> = {
  training: '#0072B2',
  aggregating: '#E69F00',
  waiting: '#56B4E9',
  connecting: '#56B4E9',
  done: '#009E73',
  error: '#D55E00',
  idle: '#ffffff',
};

const MAX_EDGES = 400;
/** Above this many nodes the state colours change without a fade. */
const CROWDED = 16;

/**
 * Nodes on a circle, coloured by state; this round's messages as animated edges (thicker
 * when they carry a model); MoDeST's sample ringed, aggregators with a thick orange ring;
 * failed or departed nodes greyed and dashed. Hover or focus a node for its details.
 */
export function Topology({ nodes, edges, links = [], round, title = 'Topology', testId = 'topology', caption, marks = {}, countLabel = 'count' }: {
  nodes: TopoNode[];
  edges: TopoEdge[];
  /** Static links (live mode: this tab's open data channels). */
  links?: [string, string][];
  /** Changing it restarts the edge animation. */
  round: number | string;
  title?: string;
  testId?: string;
  caption?: string;
  /** Legend text of the rings; null leaves an entry out (where nothing is ever ringed). */
  marks?: { sample?: string | null; aggregator?: string | null };
  /** What the nodes' `count` is (token: visits). */
  countLabel?: string;
}) {
  const sampleMark = marks.sample === undefined ? 'sample' : marks.sample;
  const aggregatorMark = marks.aggregator === undefined ? 'aggregator' : marks.aggregator;
  const nameOf = new Map(nodes.map((x) => [x.id, x.label ?? x.id]));
  const [hover, setHover] = useState<string | null>(null);
  const n = nodes.length;
  const size = 400;
  const c = size / 2;
  const r = n <= 1 ? 0 : size / 2 - 40;
  const nodeR = n <= 1 ? 22 : Math.max(5, Math.min(18, (Math.PI * r) / n - 3));
  const pos = new Map(nodes.map((node, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, n) - Math.PI / 2;
    return [node.id, { x: c + r * Math.cos(a), y: c + r * Math.sin(a) }];
  }));
  const shown = edges.filter((e) => pos.has(e.from) && pos.has(e.to) && e.from !== e.to).slice(0, MAX_EDGES);
  // Recomputed (and redrawn) only when the edges or the nodes' places change, not on every render.
  const placesKey = nodes.map((x) => x.id).join(' ');
  const linesKey = edgeKey(shown);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const lines = useMemo(() => edgeLines(shown, pos, nodeR), [linesKey, placesKey]);
  const hovered = nodes.find((x) => x.id === hover);
  const hp = hovered ? pos.get(hovered.id)! : null;
  return (
    <figure className="topology" data-testid={testId} data-nodes={n} data-edges={shown.length}>
      <figcaption className="chart-head">
        <span className="chart-title">{title}</span>
        {caption && <span className="muted small-text">{caption}</span>}
      </figcaption>
      {/* Crowded: no colour fades, which at 50 nodes changing every round restyled and repainted the picture every frame. */}
      <div className={n > CROWDED ? 'topo-wrap crowded' : 'topo-wrap'}>
        {n === 0 ? (
          <div className="chart-empty">No nodes yet.</div>
        ) : (
          <>
          <TopologyEdges lines={lines} size={size} version={round} />
          <svg viewBox={`0 0 ${size} ${size}`} role="group" aria-label={`${title}: ${n} nodes, ${shown.length} message edges this round`}>
            {links.map(([a, b]) => {
              const p = pos.get(a);
              const q = pos.get(b);
              return p && q ? <line key={`l${a}-${b}`} x1={p.x} y1={p.y} x2={q.x} y2={q.y} className="topo-link" /> : null;
            })}
            {nodes.map((node) => {
              const p = pos.get(node.id)!;
              return <NodeMark key={node.id} node={node} x={p.x} y={p.y} r={nodeR} count={n <= 48} label={n <= 24} onHover={setHover} />;
            })}
          </svg>
          </>
        )}
        {hovered && hp && (
          <div className="tooltip" role="tooltip" style={{ left: `${(hp.x / size) * 100}%`, top: `${(hp.y / size) * 100}%` }}>
            <strong>{hovered.label ?? hovered.id}</strong>
            {hovered.label !== undefined && hovered.label !== hovered.id && <div className="muted-on-dark">peer id {hovered.id}</div>}
            <div>
              {hovered.failed ? 'left / failed' : hovered.state}
              {hovered.role ? ` · ${hovered.role}` : ''}
              {hovered.attacker ? ' · attacker' : ''}
            </div>
            {hovered.backend && <div>backend: {hovered.backend}</div>}
            {hovered.throughput && <div>throughput: {hovered.throughput}</div>}
            {hovered.count !== undefined && (
              <div>
                {countLabel}: {hovered.count}
              </div>
            )}
            {hovered.accuracy !== undefined && hovered.accuracy !== null && Number.isFinite(hovered.accuracy) && <div>accuracy: {(hovered.accuracy * 100).toFixed(1)}%</div>}
            {hovered.histogram && hovered.histogram.length > 0 && <Histogram counts={hovered.histogram} />}
            <EdgeList edges={shown.filter((e) => e.from === hovered.id)} nameOf={nameOf} />
          </div>
        )}
      </div>
      <ul className="legend topo-legend" aria-label="topology legend">
        {['training', 'aggregating', 'waiting', 'done', 'idle'].map((s) => (
          <li key={s}>
            <span className="swatch round" style={{ background: STATE_COLOR[s] }} aria-hidden />
            {s}
          </li>
        ))}
        <li>
          <span className="swatch round failed" aria-hidden />
          left / failed
        </li>
        {sampleMark && (
          <li>
            <span className="swatch ring-s" aria-hidden />
            {sampleMark}
          </li>
        )}
        {nodes.some((x) => x.attacker) && (
          <li data-testid={`${testId}-attacker-legend`}>
            <span className="attacker-mark" aria-hidden>
              ⚠
            </span>{' '}
            attacker (sends poisoned models)
          </li>
        )}
        {aggregatorMark && (
          <li data-testid={`${testId}-aggregator-legend`}>
            <span className="swatch ring-a" aria-hidden />
            {aggregatorMark}
          </li>
        )}
      </ul>
    </figure>
  );
}

/**
 * One node of the picture. Memoized on what it draws: the compare view streams a new node list
 * ten times a second, and most nodes look the same from one frame to the next, so only the
 * ones that changed are rendered and repainted.
 */
const NodeMark = memo(
  function NodeMark({ node, x, y, r, count, label, onHover }: { node: TopoNode; x: number; y: number; r: number; count: boolean; label: boolean; onHover: (id: string | null) => void }) {
    const fill = node.failed ? '#d9d9d9' : (STATE_COLOR[node.state] ?? '#ffffff');
    return (
      <g
        className={`topo-node${node.failed ? ' failed' : ''}`}
        tabIndex={0}
        role="button"
        aria-label={`${node.label ?? node.id}: ${node.failed ? 'left or failed' : node.state}${node.role ? `, ${node.role}` : ''}`}
        onMouseEnter={() => onHover(node.id)}
        onMouseLeave={() => onHover(null)}
        onFocus={() => onHover(node.id)}
        onBlur={() => onHover(null)}
        data-state={node.failed ? 'failed' : node.state}
        data-id={node.id}
        data-count={node.count}
      >
        {node.aggregator && !node.failed && <circle cx={x} cy={y} r={r + 5} className="ring-aggregator" />}
        {node.sample && !node.failed && <circle cx={x} cy={y} r={r + 2.5} className="ring-sample" />}
        <circle cx={x} cy={y} r={r} fill={fill} className="node-dot" strokeDasharray={node.failed ? '3 2' : undefined} />
        {node.self && <circle cx={x} cy={y} r={r * 0.35} fill="#1b2a41" />}
        {node.count !== undefined && count && (
          <text x={x} y={y - r - (node.aggregator ? 8 : 4)} textAnchor="middle" className="node-count">
            {node.count}
          </text>
        )}
        {node.attacker && (
          <text x={x + r * 0.7} y={y - r * 0.7} textAnchor="middle" className="attacker-mark" data-testid="attacker-mark">
            ⚠
          </text>
        )}
        {label && (
          <text x={x} y={y + r + 13} textAnchor="middle" className="node-label">
            {node.label ?? node.id}
          </text>
        )}
      </g>
    );
  },
  (a, b) => a.x === b.x && a.y === b.y && a.r === b.r && a.count === b.count && a.label === b.label && a.onHover === b.onHover && sameDrawing(a.node, b.node),
);

/** The fields of a node that the picture draws (the tooltip's fields are read on hover). */
function sameDrawing(a: TopoNode, b: TopoNode): boolean {
  return a.id === b.id && a.label === b.label && a.state === b.state && a.role === b.role && a.failed === b.failed && a.self === b.self && a.sample === b.sample && a.aggregator === b.aggregator && a.count === b.count && a.attacker === b.attacker;
}

/** The messages a hovered node sent this round (the edges are pixels on a canvas, without tooltips of their own). */
function EdgeList({ edges, nameOf }: { edges: TopoEdge[]; nameOf: Map<string, string> }) {
  if (edges.length === 0) return null;
  const MAX = 6;
  return (
    <ul className="topo-sent">
      {edges.slice(0, MAX).map((e) => (
        <li key={`${e.to}:${e.type}`}>{`→ ${nameOf.get(e.to) ?? e.to}: ${e.type}${e.count > 1 ? ` ×${e.count}` : ''}`}</li>
      ))}
      {edges.length > MAX && <li>{`and ${edges.length - MAX} more`}</li>}
    </ul>
  );
}

/** A stable identity for a list of edges: the lines are recomputed (and redrawn) only when it changes. */
function edgeKey(edges: TopoEdge[]): string {
  return edges.map((e) => `${e.from}>${e.to}:${e.model ? 1 : 0}`).join(' ');
}

/** Each edge as a line between the two node circles, ending short of the receiver for its arrowhead. */
function edgeLines(edges: TopoEdge[], pos: Map<string, { x: number; y: number }>, nodeR: number): EdgeLine[] {
  return edges.map((e) => {
    const p = pos.get(e.from)!;
    const q = pos.get(e.to)!;
    const d = Math.hypot(q.x - p.x, q.y - p.y) || 1;
    const ux = (q.x - p.x) / d;
    const uy = (q.y - p.y) / d;
    return { x1: p.x + ux * nodeR, y1: p.y + uy * nodeR, x2: q.x - ux * (nodeR + 2), y2: q.y - uy * (nodeR + 2), model: e.model };
  });
}

/** A node's label histogram as tiny bars, one per class. */
export function Histogram({ counts, height = 36 }: { counts: number[]; height?: number }) {
  const max = Math.max(1, ...counts);
  const total = counts.reduce((a, b) => a + b, 0);
  return (
    <div className="histo" style={{ height }} aria-label={`label histogram: ${counts.join(', ')}`} title={`${total} samples: ${counts.join(' / ')}`}>
      {counts.map((v, c) => (
        <span key={c} style={{ height: `${(v / max) * 100}%`, background: classColor(c) }} />
      ))}
    </div>
  );
}
