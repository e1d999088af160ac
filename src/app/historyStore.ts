import { create } from 'zustand';
import { deleteRun, listRuns, upsertRun, type SavedRun } from './lib/history.ts';

/** Past runs from IndexedDB, and which of them are overlaid on the charts. */
export interface HistoryStore {
  runs: SavedRun[];
  overlay: Set<number>;
  loaded: boolean;
  error: string | null;
  refresh(): Promise<void>;
  /** Adds a run, or merges a live run into the stored record of the same run (same `runKey`). */
  save(run: SavedRun): Promise<void>;
  remove(id: number): Promise<void>;
  toggleOverlay(id: number): void;
}

export const useHistory = create<HistoryStore>((set, get) => ({
  runs: [],
  overlay: new Set(),
  loaded: false,
  error: null,
  refresh: async () => {
    try {
      set({ runs: await listRuns(), loaded: true, error: null });
    } catch (e) {
      set({ loaded: true, error: `History is unavailable: ${(e as Error).message}` });
    }
  },
  save: async (run) => {
    try {
      await upsertRun(run);
      await get().refresh();
      changes?.postMessage('saved');
    } catch (e) {
      set({ error: `Could not save the run: ${(e as Error).message}` });
    }
  },
  remove: async (id) => {
    await deleteRun(id);
    changes?.postMessage('deleted');
    const overlay = new Set(get().overlay);
    overlay.delete(id);
    set({ overlay });
    await get().refresh();
  },
  toggleOverlay: (id) => {
    const overlay = new Set(get().overlay);
    if (overlay.has(id)) overlay.delete(id);
    else overlay.add(id);
    set({ overlay });
  },
}));

export const overlaidRuns = (s: HistoryStore): SavedRun[] => s.runs.filter((r) => r.id !== undefined && s.overlay.has(r.id));

/** The other tabs of this browser refresh their list when one saves or deletes a run. */
const changes = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('murmuration-history');
if (changes) changes.onmessage = () => void useHistory.getState().refresh();
