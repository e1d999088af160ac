import { create } from 'zustand';
import type { HistoryPoint, Snapshot } from '../live/liveNode.ts';
import { parseHide, formatHide } from './lib/hide.ts';

/**
 * The UI reads only from here; the live node feeds it. Besides the latest snapshot, the
 * store keeps what snapshots forget: every peer's metrics over time (the signaling server
 * relays only the latest), and the peers that left the room (greyed in the topology).
 */
export interface LiveStore {
  snapshot: Snapshot | null;
  /** Per peer id, one point per evaluated round; `t` is ms since this tab's run started. */
  peerHistory: Record<string, HistoryPoint[]>;
  /** Ids seen in the roster that are gone now. */
  departed: string[];
  /** Wall time (ms) when this tab's run started, as far as the UI can tell. */
  startWall: number | null;
  /** Bumps whenever chart data changes; charts memoize on it. */
  version: number;
  set(snapshot: Snapshot): void;
}

export const useLive = create<LiveStore>((set, get) => ({
  snapshot: null,
  peerHistory: {},
  departed: [],
  startWall: null,
  version: 0,
  set: (snapshot) => {
    const prev = get();
    let { peerHistory, departed, startWall } = prev;
    const { version } = prev;
    const now = Date.now();
    if (snapshot.history.length > 0 && !prev.snapshot?.history.length) {
      // Align with the node's own clock: a history point's t is ms since its run started.
      startWall = now - snapshot.history[snapshot.history.length - 1].t;
    } else if (startWall === null && snapshot.started) startWall = now;
    let changed = (prev.snapshot?.history.length ?? 0) !== snapshot.history.length;
    for (const [id, m] of Object.entries(snapshot.swarm)) {
      if (id === snapshot.nodeId || !Number.isFinite(m.accuracy)) continue;
      const list = peerHistory[id] ?? [];
      const last = list[list.length - 1];
      if (last && last.round >= m.round) continue;
      if (!changed) peerHistory = { ...peerHistory };
      changed = true;
      peerHistory[id] = [...list, { round: m.round, accuracy: m.accuracy, loss: m.loss, bytesSent: m.bytesSent, t: now - (startWall ?? now) }];
    }
    const roster = new Set(snapshot.roster);
    const gone = (prev.snapshot?.roster ?? []).filter((id) => !roster.has(id) && !departed.includes(id));
    const back = departed.filter((id) => roster.has(id));
    if (gone.length || back.length) departed = [...departed.filter((id) => !roster.has(id)), ...gone];
    set({ snapshot, peerHistory, departed, startWall, version: changed ? version + 1 : version });
  },
}));

/** UI-only state: teacher mode and the hidden controls (written into the link's `hide` key). */
export interface UiStore {
  hidden: Set<string>;
  teacher: boolean;
  setTeacher(on: boolean): void;
  toggleHidden(key: string): void;
  initHidden(hide: string): void;
}

export const useUi = create<UiStore>((set, get) => ({
  hidden: new Set(),
  teacher: false,
  setTeacher: (teacher) => set({ teacher }),
  toggleHidden: (key) => {
    const hidden = new Set(get().hidden);
    if (hidden.has(key)) hidden.delete(key);
    else hidden.add(key);
    set({ hidden });
    // Keep the address bar's link in step without reloading (a hash change restarts the tab).
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    if (hidden.size) params.set('hide', formatHide(hidden));
    else params.delete('hide');
    history.replaceState(null, '', `${location.pathname}${location.search}#${params.toString()}`);
  },
  initHidden: (hide) => set({ hidden: parseHide(hide) }),
}));

/** Whether a control is visible: teachers see everything (with a "hide" tick box). */
export function useVisible(): (key: string) => boolean {
  const { hidden, teacher } = useUi();
  return (key) => teacher || !hidden.has(key);
}
