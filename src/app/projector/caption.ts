import type { RoomView, Transfer } from '../../live/spectator/roomWatcher.ts';

/**
 * One line that says what the room is doing now, for the projector: built only from what the
 * members report (their state, role and round) and the transfers of the last second.
 */
export function narrate(view: RoomView, recent: readonly Transfer[], now: number, coordinated: boolean): string {
  const n = view.nodes.length;
  const name = (id: string | null) => view.nodes.find((x) => x.id === id)?.name ?? id ?? '?';
  if (n === 0) return 'Waiting for tabs: open the link on your laptops to join.';
  if (view.finished) {
    const a = view.finished.summary.accuracy;
    return `Finished after ${view.finished.summary.rounds} rounds: the swarm's accuracy is ${pct(a.mean)} (from ${pct(a.min)} to ${pct(a.max)}) over ${view.finished.summary.nodes} tabs.`;
  }
  if (!view.started) return `${n} tab${n === 1 ? '' : 's'} joined; waiting for the teacher to start.`;
  if (view.paused) return 'Paused by the teacher: every tab holds its work until the run resumes.';
  const round = Math.max(0, ...view.nodes.map((x) => x.round));
  const training = view.nodes.filter((x) => x.state === 'training');
  const aggregating = view.nodes.filter((x) => x.state === 'aggregating');
  const done = view.nodes.filter((x) => x.state === 'done').length;
  if (done === n) return `Round ${round}: every tab is done.`;
  const moving = new Set(recent.filter((t) => now - t.at < 1000).map((t) => t.from)).size;
  const trains = `${training.length} of ${n} tab${n === 1 ? '' : 's'} train${training.length === 1 ? 's' : ''}`;
  if (aggregating.length > 0) return `Round ${round}: aggregator ${aggregating.map((x) => x.name).join(', ')} collects the trained models; ${trains}.`;
  if (coordinated && view.coordinator) return `Round ${round}: ${name(view.coordinator)} (the server) waits while ${trains} on their own data.`;
  return `Round ${round}: ${trains}; ${moving} sent a model in the last second.`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
