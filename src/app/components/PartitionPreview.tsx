import { useEffect, useState } from 'react';
import type { Config } from '../../core/config.ts';
import { partitionPreview, type PartitionPreview } from '../lib/partitionPreview.ts';
import { classColor } from '../palette.ts';

const MAX_ROWS = 32;

/**
 * Every node's label histogram for the chosen partition, computed exactly as the nodes will
 * (partitionFor on the training labels). Updates as the setup changes, before applying.
 */
export function PartitionPreviewView({ config }: { config: Config }) {
  const [state, setState] = useState<{ preview: PartitionPreview | null; error: string | null; loading: boolean }>({ preview: null, error: null, loading: true });
  const key = `${config.dataset}|${config.samples}|${config.classes}|${config.noise}|${config.seed}|${config.nodes}|${config.partition}`;
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    const timer = setTimeout(() => {
      if (config.nodes > 5000) {
        setState({ preview: null, error: 'Too many nodes to preview.', loading: false });
        return;
      }
      partitionPreview(config).then(
        (preview) => live && setState({ preview, error: null, loading: false }),
        (e: Error) => live && setState({ preview: null, error: e.message, loading: false }),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  const p = state.preview;
  const rows = p?.histograms.slice(0, MAX_ROWS) ?? [];
  const maxSize = Math.max(1, ...rows.map((h) => h.reduce((a, b) => a + b, 0)));
  return (
    <div className="preview" data-testid="partition-preview" aria-busy={state.loading} data-nodes={p?.histograms.length ?? 0}>
      <div className="preview-head">
        <span>
          Partition preview: <code>{config.partition}</code> over {config.nodes} nodes
        </span>
        {state.loading && <span className="muted small-text">computing…</span>}
      </div>
      {state.error ? (
        <p className="error-text">{state.error}</p>
      ) : (
        <>
          <div className="preview-rows" style={{ minHeight: Math.min(MAX_ROWS, config.nodes) * 13 }}>
            {rows.map((h, i) => {
              const total = h.reduce((a, b) => a + b, 0);
              return (
                <div className="preview-row" key={i} title={`node ${i}: ${total} samples (${h.join(' / ')})`}>
                  <span className="preview-id">{i}</span>
                  <span className="preview-bar" style={{ width: `${(total / maxSize) * 100}%` }}>
                    {h.map((v, c) => (v > 0 ? <span key={c} style={{ flexGrow: v, background: classColor(c) }} /> : null))}
                  </span>
                </div>
              );
            })}
            {p && p.histograms.length > MAX_ROWS && <div className="muted small-text">…and {p.histograms.length - MAX_ROWS} more nodes</div>}
          </div>
          {p && (
            <div className="preview-legend" aria-label="classes">
              {Array.from({ length: p.numClasses }, (_, c) => (
                <span key={c}>
                  <span className="swatch" style={{ background: classColor(c) }} aria-hidden />
                  {c}
                </span>
              ))}
            </div>
          )}
        </>
      )}
    </div>
  );
}
