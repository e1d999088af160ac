import { useState, type FormEvent } from 'react';
import { ALGOS, BACKENDS, DATASETS, MODELS, configToHash, parseConfig, ConfigError, type Config } from '../../core/config.ts';
import type { Snapshot } from '../../live/liveNode.ts';

type Field = { key: keyof Config; label: string; options?: readonly string[]; algos?: Config['algo'][]; help?: string };

const FIELDS: Field[] = [
  { key: 'room', label: 'Room' },
  { key: 'algo', label: 'Algorithm', options: ALGOS },
  { key: 'dataset', label: 'Dataset', options: DATASETS },
  { key: 'model', label: 'Model', options: MODELS },
  { key: 'partition', label: 'Partition', help: 'iid, dirichlet:0.5, shards:2' },
  { key: 'nodes', label: 'Nodes' },
  { key: 'rounds', label: 'Rounds' },
  { key: 'seed', label: 'Seed' },
  { key: 'lr', label: 'Learning rate' },
  { key: 'batch', label: 'Batch (inf = full)' },
  { key: 'epochs', label: 'Local epochs' },
  { key: 'steps', label: 'Local steps (0 = epochs)' },
  { key: 'fraction', label: 'Client fraction C', algos: ['fedavg'] },
  { key: 's', label: 'Sample size s', algos: ['modest'] },
  { key: 'a', label: 'Aggregators a', algos: ['modest'] },
  { key: 'sf', label: 'Success fraction sf', algos: ['modest'] },
  { key: 'merge', label: 'Merge rule', options: ['mean', 'age', 'vca'], algos: ['gossip'] },
  { key: 'period', label: 'Period Δ (ms)', algos: ['gossip'] },
  { key: 'topology', label: 'Topology', algos: ['dpsgd', 'gossip'], help: 'ring, full, exp, kregular:4' },
  { key: 'backend', label: 'Backend', options: BACKENDS },
];

/** Edits the experiment; applying writes the URL hash, which restarts the tab in the new room. */
export function SetupPanel({ snapshot }: { snapshot: Snapshot }) {
  const [draft, setDraft] = useState<Record<string, string>>(() => toStrings(snapshot.config));
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const hidden = new Set(snapshot.config.hide.split(',').filter(Boolean));

  const apply = (e: FormEvent) => {
    e.preventDefault();
    try {
      const next = parseConfig({ ...toStrings(snapshot.config), ...draft });
      location.hash = configToHash(next);
    } catch (err) {
      setError(err instanceof ConfigError ? err.message : String(err));
    }
  };

  const share = async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setError('Copy failed; copy the address bar instead.');
    }
  };

  const openTabs = () => {
    for (let i = 1; i < snapshot.config.nodes; i++) window.open(location.href, '_blank');
  };

  const visible = FIELDS.filter((f) => !hidden.has(f.key) && (!f.algos || f.algos.includes(draft.algo as Config['algo'])));
  return (
    <aside className="card setup" aria-label="Experiment setup">
      <h2>Experiment</h2>
      <form onSubmit={apply}>
        {visible.map((f) => (
          <label key={f.key} className="field">
            <span>{f.label}</span>
            {f.options ? (
              <select value={draft[f.key]} onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })} name={f.key}>
                {f.options.map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            ) : (
              <input value={draft[f.key]} onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })} name={f.key} title={f.help} />
            )}
          </label>
        ))}
        {error && (
          <pre role="alert" className="error-text">
            {error}
          </pre>
        )}
        <div className="buttons">
          <button type="submit" className="primary">
            Apply &amp; join
          </button>
          <button type="button" onClick={share} data-testid="share">
            {copied ? 'Copied!' : 'Copy share link'}
          </button>
          <button type="button" onClick={openTabs} title="Opens the same link in more tabs on this computer">
            Open {Math.max(0, snapshot.config.nodes - 1)} more tabs
          </button>
        </div>
      </form>
    </aside>
  );
}

function toStrings(c: Config): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(configToHash(c)).entries());
}
