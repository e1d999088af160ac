/**
 * Finished runs kept in IndexedDB (database `murmuration`, store `runs`), so they survive a
 * reload and can be overlaid on the charts of the next run. A ~40-line promise wrapper over
 * the raw API; no dependency needed.
 */

export interface RunRow {
  round: number;
  accuracy: number;
  loss: number;
  /** Cumulative bytes sent (this tab for a live run; all nodes for a simulated one). */
  bytesSent: number;
  /** ms since the run started (wall time live, simulated time in compare mode). */
  t: number;
  minAccuracy?: number;
  maxAccuracy?: number;
}

export interface SavedRun {
  id?: number;
  savedAt: number;
  kind: 'live' | 'sim';
  /** Short human label, e.g. "gossip-vca · moons · 8 nodes". */
  label: string;
  algo: string;
  /** The experiment's config hash (what `#…` of a share link holds). */
  hash: string;
  rows: RunRow[];
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
export const listRuns = async (): Promise<SavedRun[]> => (await tx('readonly', (s) => s.getAll() as IDBRequest<SavedRun[]>)).sort((a, b) => b.savedAt - a.savedAt);
export const deleteRun = async (id: number): Promise<void> => void (await tx('readwrite', (s) => s.delete(id)));
