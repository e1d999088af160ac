import { useEffect } from 'react';
import { download, rowsToCsv, runToJson, slug } from '../lib/export.ts';
import { useHistory } from '../historyStore.ts';

/** Finished runs kept in IndexedDB: overlay on the charts, export, delete, or reopen. */
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
              const name = `${slug(r.label)}-${r.id}`;
              return (
                <tr key={r.id} data-testid="history-row">
                  <td>
                    <input type="checkbox" checked={overlay.has(r.id!)} onChange={() => toggleOverlay(r.id!)} aria-label={`overlay run ${r.id} on the charts`} />
                  </td>
                  <td>
                    <a href={r.kind === 'sim' ? `/?view=compare&runs=${variantOf(r)}#${r.hash}` : `/#${r.hash}`} title="Open this experiment again">
                      #{r.id} {r.label}
                    </a>
                  </td>
                  <td>{last?.round ?? 0}</td>
                  <td>{last ? `${(last.accuracy * 100).toFixed(1)}%` : '—'}</td>
                  <td>{new Date(r.savedAt).toLocaleString()}</td>
                  <td className="row-buttons">
                    <button type="button" className="small" onClick={() => download(`${name}.csv`, rowsToCsv(r.rows), 'text/csv')}>
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
      )}
    </section>
  );
}

/** A saved simulated run remembers its variant in its label's first word. */
function variantOf(r: { label: string }): string {
  return r.label.split(' ')[0];
}
