import { create } from 'zustand';
import type { Snapshot } from '../live/liveNode.ts';

/** The UI reads only from here; the live node feeds it. */
export interface LiveStore {
  snapshot: Snapshot | null;
  set(snapshot: Snapshot): void;
}

export const useLive = create<LiveStore>((set) => ({
  snapshot: null,
  set: (snapshot) => set({ snapshot }),
}));
