import { useId, useMemo, useRef, useState, type ChangeEvent, type FormEvent, type MouseEvent, type ReactNode } from 'react';
import { BACKENDS, CONFIG_KEYS, DATASETS, KEY_NAMES, MODELS, configToStrings, errorSentence, parseConfigByKey, type Config, type ConfigErrors } from '../../core/config.ts';
import { PRESETS, VARIANTS, MAX_RUNS, presetUrl, variantById } from '../lib/presets.ts';
import { allProtocols, protocolFor } from '../../protocols/index.ts';
import { featuresFor, numClassesFor } from '../../core/data/index.ts';
import { modelParamCount } from '../../core/learn/paramCount.ts';
import { SECTIONS, type Section } from '../lib/hide.ts';
import { useUi } from '../store.ts';
import { PartitionPreviewView } from './PartitionPreview.tsx';
import { ShareBox } from './ShareBox.tsx';
import { useLinkState } from '../linkState.ts';

type Key = keyof Config;
interface Field {
  key: Key;
  label: string;
  options?: readonly string[];
  /** Shown only for these algorithms (live: the chosen one; compare: any chosen run's). */
  algos?: string[];
  /** Shown only for these datasets. */
  datasets?: Config['dataset'][];
  help?: string;
  suggest?: string[];
  modes?: readonly ('live' | 'compare')[];
  /** Shown only when this says so for the form's values (an algorithm key's `visible`). */
  visible?(values: Readonly<Record<string, string>>): boolean;
}

const SYNTH: Config['dataset'][] = ['blobs', 'moons', 'spirals'];

/** The experiment's own fields; each algorithm's fields come from its module (`algorithmFields`). */
const BASE_FIELDS: Field[] = [
  { key: 'room', label: 'Room', modes: ['live'], help: 'Tabs with the same room learn together. Pick any name, then share the link.' },
  { key: 'algo', label: 'Algorithm', modes: ['live'] },
  { key: 'dataset', label: 'Dataset', options: DATASETS, help: 'blobs, moons and spirals are small clouds of 2-D points made on the spot; mnist is handwritten digits (bigger and slower).' },
  { key: 'samples', label: 'Samples', datasets: SYNTH, help: 'How many points the whole room has; they are split among the nodes.' },
  { key: 'classes', label: 'Classes', datasets: ['blobs', 'spirals'], help: 'How many groups (colours) of points there are to tell apart.' },
  { key: 'noise', label: 'Noise', datasets: SYNTH, help: 'How much the groups overlap: 0 is clean, bigger is harder.' },
  { key: 'model', label: 'Model', options: MODELS, help: 'mlp: a small network for the 2-D points. 2nn: two hidden layers of 200 units. cnn and cnn-small: convolutional networks for images.' },
  {
    key: 'partition',
    label: 'Partition',
    help: 'How the data is split among the nodes. iid: every node gets a fair mix. dirichlet:<alpha>: skewed, smaller alpha is more skewed (alpha above 0). shards:<k>: each node gets k slices of sorted labels (k at least 1).',
    suggest: ['iid', 'dirichlet:0.1', 'dirichlet:0.5', 'dirichlet:1', 'shards:1', 'shards:2'],
  },
  { key: 'nodes', label: 'Nodes', help: 'How many learning nodes (tabs or devices) the room expects.' },
  { key: 'rounds', label: 'Rounds', help: 'How many rounds of training and sharing to run.' },
  { key: 'seed', label: 'Seed', help: 'Same seed, same data and same starting model: a run can be repeated.' },
  { key: 'lr', label: 'Learning rate', help: 'How big a step each training update takes. Too big and accuracy jumps around; too small and it barely moves.' },
  { key: 'batch', label: 'Batch (inf = full)', help: 'Samples per training step; inf uses a node\'s whole slice at once.' },
  { key: 'epochs', label: 'Local epochs', help: 'How many passes over its own data each node makes per round.' },
  { key: 'steps', label: 'Local steps (0 = epochs)', help: 'Above 0: each node trains this many steps per round instead of whole epochs.' },
  { key: 'init', label: 'Initialisation', options: ['auto', 'shared', 'independent'], help: 'shared: all nodes start from the same model; independent: each from its own. auto: independent for gossip, shared for the others.' },
  { key: 'evalSize', label: 'Eval set size', help: 'How many test samples accuracy is measured on.' },
  { key: 'churn', label: 'Churn', help: '0.5@10 fails half the nodes at round 10; join:4@20 adds 4 nodes at round 20; rejoin@30 brings failed nodes back.', modes: ['compare'] },
  { key: 'backend', label: 'Backend', options: BACKENDS, modes: ['live'], help: 'Where this tab computes. auto: the fastest for this model on this device (small models: CPU; bigger ones: a short timed probe, cached).' },
  { key: 'autostart', label: 'Start when all joined', options: ['0', '1'], modes: ['live'], help: '1: training starts by itself once all nodes have joined.' },
];

/** The registered algorithms' keys, each shown when an algorithm that reads it is chosen. */
function algorithmFields(): Field[] {
  const fields = new Map<string, Field>();
  for (const m of allProtocols()) {
    for (const [key, spec] of Object.entries(m.config)) {
      const f = fields.get(key) ?? { key: key as Key, label: spec.label, help: spec.help, options: spec.options, suggest: spec.suggest ? [...spec.suggest] : undefined, modes: spec.modes, visible: spec.visible, algos: [] };
      f.algos!.push(m.name);
      fields.set(key, f);
    }
  }
  return [...fields.values()];
}

/** All fields in form order: the algorithm's keys after the training keys. */
function formFields(): Field[] {
  const protocols = allProtocols();
  const algo: Field = {
    key: 'algo',
    label: 'Algorithm',
    modes: ['live'],
    options: protocols.map((m) => m.name),
    help: protocols.map((m) => `${m.name}: ${m.ui.explain.split('. ')[0].replace(/\.$/, '')}.`).join(' '),
  };
  const at = BASE_FIELDS.findIndex((f) => f.key === 'init') + 1;
  return [...BASE_FIELDS.slice(0, at).map((f) => (f.key === 'algo' ? algo : f)), ...algorithmFields(), ...BASE_FIELDS.slice(at)];
}

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
  /**
   * The room's settings belong to someone else: show `config` (the room's) read-only, with a
   * banner "This room runs <summary>, set by <owner>.", and no Apply or Teacher-mode button.
   */
  lockedBy?: { owner: string; summary: string };
}

/** Edits the experiment; applying writes the link, which restarts the view in the new experiment. */
export function SetupPanel({ mode, config, runs = [], shareLink, onApply, extra, lockedBy }: Props) {
  const link = useLinkState();
  const linkBroken = Object.keys(link.errors).length > 0;
  // A bad link's bad values stay in the form, marked, so the student sees what to fix.
  const [draft, setDraft] = useState<Record<string, string>>(() => ({ ...configToStrings(config), ...badLinkValues(link.input, link.errors) }));
  const [draftRuns, setDraftRuns] = useState<string[]>(() => [...runs, ...Array(MAX_RUNS).fill('')].slice(0, MAX_RUNS));
  const [tried, setTried] = useState(false);
  const [helpOpen, setHelpOpen] = useState<ReadonlySet<string>>(() => new Set());
  const { hidden, teacher: teacherOn, setTeacher, toggleHidden } = useUi();
  const locked = !!lockedBy;
  const teacher = teacherOn && !locked;
  const visible = (key: string) => teacher || !hidden.has(key);
  const idBase = useId();
  const formRef = useRef<HTMLFormElement>(null);

  // Locked: always the room's values, never an edit.
  const values = locked ? configToStrings(config) : draft;
  const checked = useMemo(() => parseConfigByKey({ ...configToStrings(config), ...values }), [config, values]);
  const errors = locked ? {} : checked.errors;
  const valid = Object.keys(errors).length === 0;

  const chosenVariants = draftRuns.map((r) => variantById(r)).filter((v) => v !== undefined);
  const algos = mode === 'live' ? [values.algo] : chosenVariants.map((v) => String(v.overrides.algo));
  // In compare mode a key the chosen runs set themselves (gossip's merge rule) is not a form field.
  const setByRuns = new Set(mode === 'compare' ? chosenVariants.flatMap((v) => Object.keys(v.overrides)) : []);
  // The values each run will have: the form's, or (compare) the form's under each chosen run's overrides.
  const runValues = mode === 'live' ? [values] : chosenVariants.map((v) => ({ ...values, ...Object.fromEntries(Object.entries(v.overrides).map(([k, x]) => [k, String(x)])) }));
  const fields = formFields().filter(
    (f) =>
      (!f.modes || f.modes.includes(mode)) &&
      (!f.algos || f.algos.some((a) => algos.includes(a))) &&
      (!f.visible || runValues.some((v) => f.visible!(v))) &&
      !setByRuns.has(f.key) &&
      (!f.datasets || f.datasets.includes(values.dataset as Config['dataset'])) &&
      visible(f.key),
  );
  // Bad values the form does not show (another algorithm's key, a hidden control): say them in words.
  const unshown = Object.entries(errors).filter(([k]) => !fields.some((f) => f.key === k));
  const chosen = draftRuns.filter(Boolean);
  const noRuns = mode === 'compare' && chosen.length === 0;

  const edit = (key: string, value: string) => setDraft({ ...draft, [key]: value });
  const apply = (e: FormEvent) => {
    e.preventDefault();
    if (locked) return;
    setTried(true);
    if (!valid) {
      formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    if (noRuns) return;
    onApply({ ...checked.config, hide: [...hidden].sort().join(',') }, chosen);
  };
  const toggleHelp = (key: string) => {
    const next = new Set(helpOpen);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    setHelpOpen(next);
  };

  const summary = [
    ...unshown.map(([k, problem]) => errorSentence(k, problem!)),
    ...(tried && !valid ? ['Fix the marked settings first.'] : []),
    ...(tried && noRuns ? ['Choose at least one algorithm to compare.'] : []),
  ];

  return (
    <aside className="card setup" aria-label="Experiment setup">
      <div className="setup-head">
        <h2>Experiment</h2>
        {!locked && (
          <button type="button" className={`small${teacher ? ' pressed' : ''}`} aria-pressed={teacher} onClick={() => setTeacher(!teacher)} data-testid="teacher-toggle" title="Choose controls to hide from students; the choice goes into the share link">
            Teacher mode
          </button>
        )}
      </div>
      {lockedBy && (
        <p className="locked-banner" role="status" data-testid="locked-banner">
          This room runs {lockedBy.summary}, set by {lockedBy.owner}. Its settings are shown read-only.
        </p>
      )}
      {teacher && (
        <p className="teacher-note" data-testid="teacher-note">
          Tick <b>hide</b> next to the controls students should not see; the share link below keeps that choice (<code>hide=</code>).
        </p>
      )}

      {visible('presets') && (
        <Section name="presets" teacher={teacher} hidden={hidden} onToggle={toggleHidden}>
          <details className="presets" open={mode === 'live' && !config.hide && !locked}>
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

      <form onSubmit={apply} className="fields" ref={formRef} noValidate>
        <div className="fields-set" data-testid="setup-fields">
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
          {fields.map((f) => {
            const id = `${idBase}-${f.key}`;
            const problem = errors[f.key];
            const showHelp = !!f.help && helpOpen.has(f.key);
            const describedBy = [problem ? `${id}-error` : '', showHelp ? `${id}-help` : ''].filter(Boolean).join(' ') || undefined;
            const control = {
              id,
              name: f.key,
              value: values[f.key] ?? '',
              onChange: (e: ChangeEvent<HTMLInputElement | HTMLSelectElement>) => edit(f.key, e.target.value),
              'aria-invalid': problem ? true : undefined,
              'aria-describedby': describedBy,
              className: problem ? 'invalid' : undefined,
            };
            return (
              <div key={f.key} className={`field-row${hidden.has(f.key) ? ' is-hidden' : ''}`}>
                <div className="field">
                  <span className="field-label">
                    <label htmlFor={id}>{f.label}</label>
                    {f.help && (
                      <button
                        type="button"
                        className="help-button"
                        aria-expanded={showHelp}
                        aria-controls={`${id}-help`}
                        aria-label={`What is ${KEY_NAMES[f.key]}?`}
                        title={f.help}
                        onClick={() => toggleHelp(f.key)}
                        data-testid={`help-${f.key}`}
                      >
                        <span className="help-i" aria-hidden>
                          i
                        </span>
                      </button>
                    )}
                  </span>
                  {f.options ? (
                    <select {...control} disabled={locked}>
                      {/* A bad value from the link stays visible (and marked) until it is changed. */}
                      {!f.options.includes(control.value) && <option value={control.value}>{control.value}</option>}
                      {f.options.map((o) => (
                        <option key={o}>{o}</option>
                      ))}
                    </select>
                  ) : (
                    <input {...control} list={f.suggest ? `${id}-suggest` : undefined} autoComplete="off" spellCheck={false} readOnly={locked} />
                  )}
                </div>
                {teacher && <HideBox name={f.key} label={f.label} hidden={hidden} onToggle={toggleHidden} />}
                {f.suggest && (
                  <datalist id={`${id}-suggest`}>
                    {f.suggest.map((s) => (
                      <option key={s} value={s} />
                    ))}
                  </datalist>
                )}
                {showHelp && (
                  <p id={`${id}-help`} className="field-help" data-testid={`help-text-${f.key}`}>
                    {f.help}
                  </p>
                )}
                {problem && (
                  <p id={`${id}-error`} className="field-error" data-testid={`error-${f.key}`}>
                    {errorSentence(f.key, problem)}
                  </p>
                )}
              </div>
            );
          })}
        </div>
        {valid && <RunFacts configs={runValues.map((v) => parseConfigByKey(v).config)} />}
        <p role="alert" className="error-text" data-testid="setup-error">
          {summary.join(' ')}
        </p>
        {!locked && (
          <div className="buttons">
            <button type="submit" className="primary" data-testid="apply">
              {mode === 'live' ? 'Apply & join' : 'Apply & restart'}
            </button>
          </div>
        )}
      </form>

      {visible('preview') && (
        <Section name="preview" teacher={teacher} hidden={hidden} onToggle={toggleHidden}>
          <PartitionPreviewView config={valid ? checked.config : config} />
        </Section>
      )}

      {visible('share') && (
        <Section name="share" teacher={teacher} hidden={hidden} onToggle={toggleHidden}>
          <ShareBox link={shareLink} blocked={linkBroken ? 'This page\'s link has invalid settings, so there is nothing right to share yet. Fix the marked fields and press Apply; the share link appears then.' : undefined} />
        </Section>
      )}
      {extra}
    </aside>
  );
}

/**
 * What the chosen algorithms will report about a run, worked out before it starts for a node that
 * trains in every round (RQM's privacy ε: the worst case the run can reach).
 */
function RunFacts({ configs }: { configs: Config[] }) {
  // Cheap to redo on each render: the costly part (RQM's divergence curve) is memoized per parameters.
  const out = new Set<string>();
  for (const c of configs) {
    let facts;
    try {
      facts = protocolFor(c.algo).facts?.(c, { paramCount: modelParamCount(c.model, featuresFor(c), numClassesFor(c)), trainings: c.rounds });
    } catch {
      continue;
    }
    for (const f of facts ?? []) if (f.label && f.text) out.add(`${protocolFor(c.algo).ui.label}, ${f.label}: ${f.text} (a node that trains in all ${c.rounds} rounds).`);
  }
  const lines = [...out];
  if (lines.length === 0) return null;
  return (
    <div className="run-facts small-text" data-testid="run-facts">
      {lines.map((l) => (
        <p key={l}>{l}</p>
      ))}
    </div>
  );
}

/** The link's raw values for its bad keys (only keys the config has; unknown ones cannot be edited). */
function badLinkValues(input: Record<string, string>, errors: ConfigErrors): Record<string, string> {
  return Object.fromEntries(Object.keys(errors).filter((k) => (CONFIG_KEYS as string[]).includes(k) && input[k] !== undefined).map((k) => [k, input[k]]));
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
