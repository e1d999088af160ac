import { useState } from 'react';
import type { Snapshot } from '../../live/liveNode.ts';
import { displayName } from '../lib/names.ts';

/**
 * What the room runs, said plainly: "fedavg on spirals (dirichlet:0.5), data split over 4 tabs, 20
 * rounds". Tabs beyond `nodes` (joined after an autostart) train on a shard another tab has too,
 * and the summary says so rather than naming a count the room does not have.
 */
export function roomSummary(s: Snapshot): string {
  const c = s.config;
  const extra = s.roster.length > c.nodes ? ` (${s.roster.length} tabs here: the extra ones share those shards)` : '';
  return `${c.algo} on ${c.dataset} (${c.partition}), data split over ${c.nodes} tabs${extra}, ${c.rounds} rounds`;
}

/**
 * A member's view of who decides: the room's owner set these settings, and a link that asked for
 * others does not change them. Shown to every tab that is not the owner.
 */
export function RoomBanner({ snapshot: s }: { snapshot: Snapshot }) {
  if (s.isOwner || !s.nodeId || s.state === 'error') return null;
  const owner = s.owner ? displayName(s, s.owner) : null;
  return (
    <div className="room-banner" role="status" data-testid="room-banner">
      This room runs <b>{roomSummary(s)}</b>, set by its owner{owner ? ` (${owner})` : ''}. Only the owner can start, change or reset it.
      {s.overriddenByRoom.length > 0 && (
        <span data-testid="room-overrides">
          {' '}
          Your link asked for other values of {s.overriddenByRoom.join(', ')}: the room's settings apply.
        </span>
      )}
    </div>
  );
}

/** The owner's private link: it carries the owner key, so opening it elsewhere keeps the owner's rights. */
/** The projector view of the room an owner link points at (the owner key stays in the query). */
function projectorUrl(ownerLink: URL): string {
  const u = new URL(ownerLink);
  u.searchParams.set('view', 'projector');
  return u.toString();
}

export function TeacherLink({ snapshot: s, studentLink }: { snapshot: Snapshot; studentLink: string }) {
  const [shown, setShown] = useState(false);
  if (!s.isOwner || !s.ownerKey) return null;
  const url = new URL(studentLink);
  url.searchParams.set('owner', s.ownerKey);
  return (
    <details className="teacher-link" data-testid="teacher-link" onToggle={(e) => setShown((e.target as HTMLDetailsElement).open)}>
      <summary>You own this room</summary>
      <p className="small-text">
        Only you can start, change or reset it; students who open the share link join as members. To keep these rights on
        another device, open your private owner link there (do not share it):
      </p>
      {shown && <input readOnly value={url.toString()} data-testid="owner-link" onFocus={(e) => e.target.select()} />}
      <p className="small-text">
        For the class screen, open the{' '}
        <a href={projectorUrl(url)} target="_blank" rel="noreferrer" data-testid="projector-link-owner">
          projector view
        </a>{' '}
        (the whole room as one picture, with your console: start, pause, reset, remove a tab).
      </p>
    </details>
  );
}
