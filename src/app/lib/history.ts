import { algoTag as registryTag } from '../../protocols/index.ts';
import type { Config } from '../../core/config.ts';
/**
 * Finished runs kept in IndexedDB (database `murmuration`, store `runs`), so they survive a
 * reload and can be overlaid on the charts of the next run. A ~40-line promise wrapper over
 * the raw API; no dependency needed.
 */

export interface RunRow {
  round: number;
  accuracy: number;
  loss: number;
  /** Cumulative bytes sent (a live run: the tabs saved in this browser; a simulated one: all nodes). */
  bytesSent: number;
  /** ms since the run started (wall time live, simulated time in compare mode). */
  t: number;
  minAccuracy?: number;
  maxAccuracy?: number;
}

/** One tab's own rows of a live run. */
export interface TabRows {
  /** The tab's peer id. */
  id: string;
  /** Its display name ("Tab 2"). */
  name: string;
  rows: RunRow[];
}

export interface SavedRun {
  id?: number;
  savedAt: number;
  kind: 'live' | 'sim';
  /** Short human label with the key settings (see runLabel). */
  label: string;
  algo: string;
  /** The experiment's config hash (what `#…` of a share link holds). */
  hash: string;
  rows: RunRow[];
  /**
   * Live runs: `room/runId`, the same in every tab of the run. A later save with the same key
   * (another tab of the room, in this browser) merges into the record instead of adding one.
   */
  runKey?: string;
  /** Live runs: each saving tab's rows; `rows` combines them (see combineTabs). */
  tabs?: TabRows[];
}

export const liveRunKey = (room: string, runId: string): string => `${room}/${runId}`;

/** One short label with the experiment's key settings: "fedavg · moons · dirichlet:0.5 · 6 tabs · lr 0.1 · 20 rounds · seed 1". */
export function runLabel(
  c: { algo: string; dataset: string; model: string; partition: string; nodes: number; lr: number; rounds: number; seed: number },
  opts: { unit?: 'tab' | 'node'; variant?: string } = {},
): string {
  const unit = opts.unit ?? 'tab';
  return [
    opts.variant ?? algoTag(c),
    c.model === 'mlp' ? c.dataset : `${c.dataset} ${c.model}`,
    c.partition,
    `${c.nodes} ${unit}${c.nodes === 1 ? '' : 's'}`,
    `lr ${c.lr}`,
    `${c.rounds} round${c.rounds === 1 ? '' : 's'}`,
    `seed ${c.seed}`,
  ].join(' · ');
}

/** The algorithm with the variant that changes its behaviour (gossip's merge rule): the algorithm's module says. */
export const algoTag = (c: { algo: string }): string => registryTag(c as Config);

/**
 * The run's rows from its tabs' rows. One tab: its rows. Several: per round, the mean
 * accuracy and loss of the tabs that evaluated it with the min and max accuracy, the bytes
 * all of them had sent by then (each tab's last count at or before the round), the latest t.
 */
export function combineTabs(tabs: TabRows[]): RunRow[] {
  if (tabs.length === 0) return [];
  if (tabs.length === 1) return tabs[0].rows.map((r) => ({ ...r }));
  const rounds = [...new Set(tabs.flatMap((t) => t.rows.map((r) => r.round)))].sort((a, b) => a - b);
  const sorted = tabs.map((t) => [...t.rows].sort((a, b) => a.round - b.round));
  const cursor = sorted.map(() => -1);
  const out: RunRow[] = [];
  for (const round of rounds) {
    const here: RunRow[] = [];
    let bytes = 0;
    sorted.forEach((rows, i) => {
      while (cursor[i] + 1 < rows.length && rows[cursor[i] + 1].round <= round) cursor[i]++;
      const last = cursor[i] >= 0 ? rows[cursor[i]] : undefined;
      if (last) bytes += last.bytesSent;
      if (last && last.round === round) here.push(last);
    });
    const acc = here.map((r) => r.accuracy);
    out.push({
      round,
      accuracy: acc.reduce((a, b) => a + b, 0) / acc.length,
      loss: here.reduce((a, r) => a + r.loss, 0) / here.length,
      bytesSent: bytes,
      t: Math.max(...here.map((r) => r.t)),
      minAccuracy: Math.min(...acc),
      maxAccuracy: Math.max(...acc),
    });
  }
  return out;
}

/** A later save of the same run: its tabs replace or join the stored ones; the id stays. */
export function mergeRun(stored: SavedRun, incoming: SavedRun): SavedRun {
  const incomingTabs = incoming.tabs ?? [];
  const kept = (stored.tabs ?? []).filter((t) => !incomingTabs.some((u) => u.id === t.id));
  const tabs = [...kept, ...incomingTabs].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }) || a.id.localeCompare(b.id));
  const merged: SavedRun = { ...stored, ...incoming, tabs, rows: tabs.length ? combineTabs(tabs) : incoming.rows };
  if (stored.id !== undefined) merged.id = stored.id;
  else delete merged.id;
  return merged;
}

const DB = 'murmuration';
const STORE = 'runs';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB unavailable'));
  });
}

async function tx<T>(mode: IDBTransactionMode, body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const req = body(t.objectStore(STORE));
      t.oncomplete = () => resolve(req.result);
      t.onerror = () => reject(t.error ?? req.error);
      t.onabort = () => reject(t.error ?? new Error('transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export const saveRun = async (run: SavedRun): Promise<number> => Number(await tx('readwrite', (s) => s.add(run)));
/** Saves a run; a live run whose `runKey` is already stored merges into that record (one read-write transaction, so tabs saving at once queue up). */
export async function upsertRun(run: SavedRun): Promise<number> {
  if (!run.runKey) return saveRun(run);
  const db = await open();
  try {
    return await new Promise<number>((resolve, reject) => {
      const t = db.transaction(STORE, 'readwrite');
      const store = t.objectStore(STORE);
      let id: IDBValidKey | undefined;
      const cursor = store.openCursor();
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c) {
          const add = store.add(run);
          add.onsuccess = () => (id = add.result);
          return;
        }
        const stored = c.value as SavedRun;
        if (stored.runKey === run.runKey) {
          c.update(mergeRun(stored, run));
          id = stored.id;
        } else c.continue();
      };
      t.oncomplete = () => resolve(Number(id));
      t.onerror = () => reject(t.error ?? cursor.error);
      t.onabort = () => reject(t.error ?? new Error('transaction aborted'));
    });
  } finally {
    db.close();
  }
}
export const listRuns = async (): Promise<SavedRun[]> => (await tx('readonly', (s) => s.getAll() as IDBRequest<SavedRun[]>)).sort((a, b) => b.savedAt - a.savedAt);
export const deleteRun = async (id: number): Promise<void> => void (await tx('readwrite', (s) => s.delete(id)));
