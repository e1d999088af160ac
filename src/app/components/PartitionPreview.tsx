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
  const key = `${config.dataset}|${config.samples}|${config.classes}|${config.noise}|${config.seed}|${config.nodes}|${config.partition}`;
  // What was computed, and for which setup: the preview is loading while its key is not the current one.
  const [state, setState] = useState<{ key: string | null; preview: PartitionPreview | null; error: string | null }>({ key: null, preview: null, error: null });
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      if (config.nodes > 5000) {
        setState({ key, preview: null, error: 'Too many nodes to preview.' });
        return;
      }
      partitionPreview(config).then(
        (preview) => live && setState({ key, preview, error: null }),
        (e: Error) => live && setState({ key, preview: null, error: e.message }),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(timer);
    };
    // The key stands for the config fields the preview reads.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const loading = state.key !== key;

  const p = state.preview;
  const rows = p?.histograms.slice(0, MAX_ROWS) ?? [];
  const maxSize = Math.max(1, ...rows.map((h) => h.reduce((a, b) => a + b, 0)));
  return (
    <div className="preview" data-testid="partition-preview" aria-busy={loading} data-nodes={p?.histograms.length ?? 0}>
      <div className="preview-head">
        <span>
          Partition preview: <code>{config.partition}</code> over {config.nodes} nodes
        </span>
        {loading && <span className="muted small-text">computing…</span>}
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
