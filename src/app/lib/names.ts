import { allProtocols } from '../../protocols/index.ts';
/**
 * Friendly names for the tabs of a room ("Tab 3"), one rule for the legend, the topology and
 * the peers table. The signaling server names every member (join order in the room, stable);
 * without a name from the server, a tab is "Tab k" by its place in the roster.
 */

/** The parts of a live Snapshot the names depend on. */
export interface NameSource {
  roster: string[];
  names?: Record<string, string>;
}

export function displayName(s: NameSource, id: string): string {
  const given = s.names?.[id];
  if (given) return given;
  const k = s.roster.indexOf(id);
  if (k >= 0) return `Tab ${k + 1}`;
  // Left the room before the server named it: no roster place to count from.
  return `left tab ${id.slice(0, 6)}`;
}

/** The name with "(this tab)" after this tab's own. */
export function displayNameSelf(s: NameSource & { nodeId: string | null }, id: string): string {
  return id === s.nodeId ? `${displayName(s, id)} (this tab)` : displayName(s, id);
}

/** What the room's ★ means, or null where nothing deserves one: the algorithm's module says (only FedAvg has a coordinator). */
export function coordinatorLegend(algo: string): string | null {
  return allProtocols().find((m) => m.name === algo)?.ui.coordinatorLegend ?? null;
}

/** Whether `id` gets the ★. */
export function isStarred(s: { coordinator: string | null; config: { algo: string } }, id: string): boolean {
  return coordinatorLegend(s.config.algo) !== null && id === s.coordinator;
}
