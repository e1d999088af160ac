import { useEffect } from 'react';
import { download, rowsToCsv, runToJson, savedRunBaseName } from '../lib/export.ts';
import { useHistory } from '../historyStore.ts';

/**
 * Finished runs kept in IndexedDB: overlay on the charts, export, delete, or reopen. A live
 * run is one row however many of its tabs run in this browser (they merge into it).
 */
export function HistoryPanel() {
  const { runs, overlay, loaded, error, refresh, remove, toggleOverlay } = useHistory();
  useEffect(() => {
    void refresh();
  }, [refresh]);
  return (
    <section className="card history" aria-label="History" data-testid="history">
      <h2>History ({runs.length})</h2>
      {error && <p className="error-text">{error}</p>}
      {!loaded ? (
        <p className="muted">Loading…</p>
      ) : runs.length === 0 ? (
        <p className="muted" data-testid="history-empty">
          No finished runs yet. Runs are saved here (in this browser) when they finish, and survive a reload.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="peers history-table">
            <thead>
              <tr>
                <th>overlay</th>
                <th>run</th>
                <th>rounds</th>
                <th>final acc.</th>
                <th>saved</th>
                <th>export</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => {
                const last = r.rows[r.rows.length - 1];
                const name = savedRunBaseName(r);
                const meta = { label: r.label, hash: r.hash };
                return (
                  <tr key={r.id} data-testid="history-row">
                    <td className="history-overlay">
                      <input type="checkbox" checked={overlay.has(r.id!)} onChange={() => toggleOverlay(r.id!)} aria-label={`overlay run ${r.id} on the charts`} />
                    </td>
                    <td className="history-run">
                      <a href={r.kind === 'sim' ? `/?view=compare&runs=${variantOf(r)}#${r.hash}` : `/#${r.hash}`} title="Open this experiment again">
                        #{r.id} {r.label}
                      </a>
                      {r.tabs && r.tabs.length > 0 && (
                        <span className="muted small-text history-tabs" title={r.tabs.map((t) => `${t.name}: peer id ${t.id}`).join('\n')} data-testid="history-tabs">
                          {' '}
                          {r.tabs.length === 1 ? `${r.tabs[0].name}'s rows` : `mean of ${r.tabs.length} tabs here: ${r.tabs.map((t) => t.name).join(', ')}`}
                        </span>
                      )}
                    </td>
                    <td data-label="rounds">{last?.round ?? 0}</td>
                    <td data-label="final acc.">{last ? `${(last.accuracy * 100).toFixed(1)}%` : '—'}</td>
                    <td data-label="saved">{new Date(r.savedAt).toLocaleString()}</td>
                    <td className="row-buttons">
                      <button type="button" className="small" onClick={() => download(`${name}.csv`, rowsToCsv(r.rows, meta), 'text/csv')}>
                        CSV
                      </button>
                      <button type="button" className="small" onClick={() => download(`${name}.json`, runToJson(r), 'application/json')}>
                        JSON
                      </button>
                      <button type="button" className="small" onClick={() => void remove(r.id!)} aria-label={`delete run ${r.id}`}>
                        ✕
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** A saved simulated run remembers its variant in its label's first word. */
function variantOf(r: { label: string }): string {
  return r.label.split(' ')[0];
}
