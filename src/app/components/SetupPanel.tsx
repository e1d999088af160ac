import { useMemo, useState, type FormEvent, type MouseEvent, type ReactNode } from 'react';
import { ALGOS, BACKENDS, DATASETS, MODELS, configToHash, parseConfig, ConfigError, type Config, type ConfigInput } from '../../core/config.ts';
import { PRESETS, VARIANTS, MAX_RUNS, presetUrl, variantById } from '../lib/presets.ts';
import { SECTIONS, type Section } from '../lib/hide.ts';
import { useUi } from '../store.ts';
import { PartitionPreviewView } from './PartitionPreview.tsx';

type Key = keyof Config;
interface Field {
  key: Key;
  label: string;
  options?: readonly string[];
  /** Shown only for these algorithms (live: the chosen one; compare: any chosen run's). */
  algos?: Config['algo'][];
  /** Shown only for these datasets. */
  datasets?: Config['dataset'][];
  help?: string;
  suggest?: string[];
  modes?: ('live' | 'compare')[];
}

const SYNTH: Config['dataset'][] = ['blobs', 'moons', 'spirals'];

const FIELDS: Field[] = [
  { key: 'room', label: 'Room', modes: ['live'], help: 'Tabs with the same room learn together' },
  { key: 'algo', label: 'Algorithm', options: ALGOS, modes: ['live'] },
  { key: 'dataset', label: 'Dataset', options: DATASETS },
  { key: 'samples', label: 'Samples', datasets: SYNTH },
  { key: 'classes', label: 'Classes', datasets: ['blobs', 'spirals'] },
  { key: 'noise', label: 'Noise', datasets: SYNTH },
  { key: 'model', label: 'Model', options: MODELS },
  { key: 'partition', label: 'Partition', help: 'iid, dirichlet:<alpha> (smaller = more skewed), shards:<k> (k label shards per node)', suggest: ['iid', 'dirichlet:0.1', 'dirichlet:0.5', 'dirichlet:1', 'shards:1', 'shards:2'] },
  { key: 'nodes', label: 'Nodes' },
  { key: 'rounds', label: 'Rounds' },
  { key: 'seed', label: 'Seed' },
  { key: 'lr', label: 'Learning rate' },
  { key: 'batch', label: 'Batch (inf = full)' },
  { key: 'epochs', label: 'Local epochs' },
  { key: 'steps', label: 'Local steps (0 = epochs)' },
  { key: 'init', label: 'Initialisation', options: ['auto', 'shared', 'independent'] },
  { key: 'fraction', label: 'Client fraction C', algos: ['fedavg'] },
  { key: 's', label: 'Sample size s', algos: ['modest'] },
  { key: 'a', label: 'Aggregators a', algos: ['modest'] },
  { key: 'sf', label: 'Success fraction sf', algos: ['modest'] },
  { key: 'merge', label: 'Merge rule', options: ['mean', 'age', 'vca', 'mu'], algos: ['gossip'], modes: ['live'] },
  { key: 'period', label: 'Period Δ (ms)', algos: ['gossip'] },
  { key: 'topology', label: 'Topology', algos: ['dpsgd', 'gossip'], help: 'ring, full, exp, kregular:<k>', suggest: ['ring', 'full', 'exp', 'kregular:2', 'kregular:4'] },
  { key: 'evalSize', label: 'Eval set size' },
  { key: 'churn', label: 'Churn', help: '0.5@10 fails half the nodes at round 10; join:4@20; rejoin@30', modes: ['compare'] },
  { key: 'backend', label: 'Backend', options: BACKENDS, modes: ['live'], help: 'auto: the fastest for this model on this device (small models: CPU; bigger ones: a short timed probe, cached)' },
  { key: 'autostart', label: 'Start when all joined', options: ['0', '1'], modes: ['live'] },
];

export const FIELD_KEYS = FIELDS.map((f) => f.key);

interface Props {
  mode: 'live' | 'compare';
  config: Config;
  /** Compare mode: the chosen variants. */
  runs?: string[];
  shareLink: string;
  /** Applies a new experiment (navigates). */
  onApply: (config: Config, runs: string[]) => void;
  /** Live mode: node count for "open N tabs". */
  extra?: ReactNode;
}

/** Edits the experiment; applying writes the link, which restarts the view in the new experiment. */
export function SetupPanel({ mode, config, runs = [], shareLink, onApply, extra }: Props) {
  const [draft, setDraft] = useState<Record<string, string>>(() => toStrings(config));
  const [draftRuns, setDraftRuns] = useState<string[]>(() => [...runs, ...Array(MAX_RUNS).fill('')].slice(0, MAX_RUNS));
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState<'' | 'ok' | 'fail'>('');
  const { hidden, teacher, setTeacher, toggleHidden } = useUi();
  const visible = (key: string) => teacher || !hidden.has(key);

  const parsed = useMemo(() => {
    try {
      return { config: parseConfig({ ...toStrings(config), ...draft } as ConfigInput), error: null };
    } catch (e) {
      return { config: null, error: e instanceof ConfigError ? e.message : String(e) };
    }
  }, [config, draft]);

  const algos = mode === 'live' ? [draft.algo as Config['algo']] : draftRuns.map((r) => variantById(r)?.overrides.algo as Config['algo']).filter(Boolean);
  const fields = FIELDS.filter(
    (f) => (!f.modes || f.modes.includes(mode)) && (!f.algos || f.algos.some((a) => algos.includes(a))) && (!f.datasets || f.datasets.includes(draft.dataset as Config['dataset'])) && visible(f.key),
  );

  const apply = (e: FormEvent) => {
    e.preventDefault();
    if (!parsed.config) {
      setError(parsed.error);
      return;
    }
    const chosen = draftRuns.filter(Boolean);
    if (mode === 'compare' && chosen.length === 0) {
      setError('Choose at least one algorithm to compare.');
      return;
    }
    setError(null);
    onApply({ ...parsed.config, hide: [...hidden].sort().join(',') }, chosen);
  };

  const share = async () => {
    try {
      await navigator.clipboard.writeText(shareLink);
      setCopied('ok');
    } catch {
      setCopied('fail');
    }
    setTimeout(() => setCopied(''), 2000);
  };

  return (
    <aside className="card setup" aria-label="Experiment setup">
      <div className="setup-head">
        <h2>Experiment</h2>
        <button type="button" className={`small${teacher ? ' pressed' : ''}`} aria-pressed={teacher} onClick={() => setTeacher(!teacher)} data-testid="teacher-toggle" title="Choose controls to hide from students; the choice goes into the share link">
          Teacher mode
        </button>
      </div>
      {teacher && (
        <p className="teacher-note" data-testid="teacher-note">
          Tick <b>hide</b> next to the controls students should not see; the share link below keeps that choice (<code>hide=</code>).
        </p>
      )}

      {visible('presets') && (
        <Section name="presets" teacher={teacher} hidden={hidden} onToggle={toggleHidden}>
          <details className="presets" open={mode === 'live' && !config.hide}>
            <summary>Presets</summary>
            <ul>
              {PRESETS.map((p) => (
                <li key={p.id}>
                  <a href={presetUrl(p, config)} data-testid={`preset-${p.id}`} onClick={(e) => navigate(e, presetUrl(p, config))}>
                    {p.name}
                  </a>
                </li>
              ))}
            </ul>
          </details>
        </Section>
      )}

      <form onSubmit={apply} className="fields">
        {mode === 'compare' && (
          <fieldset className="runs">
            <legend>Algorithms (up to {MAX_RUNS})</legend>
            {draftRuns.map((r, i) => (
              <label key={i} className="field">
                <span>Run {i + 1}</span>
                <select value={r} onChange={(e) => setDraftRuns(draftRuns.map((x, j) => (j === i ? e.target.value : x)))} name={`run${i}`} data-testid={`run-${i}`}>
                  <option value="">—</option>
                  {VARIANTS.map((v) => (
                    <option key={v.id} value={v.id}>
                      {v.label}
                    </option>
                  ))}
                </select>
              </label>
            ))}
          </fieldset>
        )}
        {fields.map((f) => (
          <div key={f.key} className={`field-row${hidden.has(f.key) ? ' is-hidden' : ''}`}>
            <label className="field" title={f.help}>
              <span>{f.label}</span>
              {f.options ? (
                <select value={draft[f.key]} onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })} name={f.key}>
                  {f.options.map((o) => (
                    <option key={o}>{o}</option>
                  ))}
                </select>
              ) : (
                <input value={draft[f.key] ?? ''} onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })} name={f.key} list={f.suggest ? `suggest-${f.key}` : undefined} autoComplete="off" spellCheck={false} />
              )}
            </label>
            {f.suggest && (
              <datalist id={`suggest-${f.key}`}>
                {f.suggest.map((s) => (
                  <option key={s} value={s} />
                ))}
              </datalist>
            )}
            {teacher && <HideBox name={f.key} label={f.label} hidden={hidden} onToggle={toggleHidden} />}
          </div>
        ))}
        <pre role="alert" className="error-text" data-testid="setup-error">
          {error ?? (parsed.error && JSON.stringify(draft) !== JSON.stringify(toStrings(config)) ? parsed.error : '')}
        </pre>
        <div className="buttons">
          <button type="submit" className="primary" data-testid="apply">
            {mode === 'live' ? 'Apply & join' : 'Apply & restart'}
          </button>
        </div>
      </form>

      {visible('preview') && (
        <Section name="preview" teacher={teacher} hidden={hidden} onToggle={toggleHidden}>
          <PartitionPreviewView config={parsed.config ?? config} />
        </Section>
      )}

      {visible('share') && (
        <Section name="share" teacher={teacher} hidden={hidden} onToggle={toggleHidden}>
          <div className="share">
            <label htmlFor="share-link">Share link (reproduces this experiment)</label>
            <div className="share-row">
              <input id="share-link" readOnly value={shareLink} data-testid="share-link" onFocus={(e) => e.target.select()} />
              <button type="button" onClick={share} data-testid="share">
                {copied === 'ok' ? 'Copied!' : copied === 'fail' ? 'Select & copy' : 'Copy'}
              </button>
            </div>
          </div>
        </Section>
      )}
      {extra}
    </aside>
  );
}

function navigate(e: MouseEvent, url: string) {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  e.preventDefault();
  location.href = url;
  // Same path, new hash only: a hashchange reloads the app (main.tsx).
}

function Section({ name, teacher, hidden, onToggle, children }: { name: Section; teacher: boolean; hidden: Set<string>; onToggle: (k: string) => void; children: ReactNode }) {
  return (
    <div className={`section${hidden.has(name) ? ' is-hidden' : ''}`}>
      {teacher && <HideBox name={name} label={SECTIONS[name]} hidden={hidden} onToggle={onToggle} section />}
      {children}
    </div>
  );
}

export function HideBox({ name, label, hidden, onToggle, section }: { name: string; label: string; hidden: Set<string>; onToggle: (k: string) => void; section?: boolean }) {
  return (
    <label className="hidebox">
      <input type="checkbox" checked={hidden.has(name)} onChange={() => onToggle(name)} data-testid={`hide-${name}`} aria-label={`hide ${label} from students`} />
      hide{section ? ` ${label.toLowerCase()}` : ''}
    </label>
  );
}

function toStrings(c: Config): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(configToHash(c)).entries());
}
