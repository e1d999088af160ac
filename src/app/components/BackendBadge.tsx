import { useState } from 'react';

/**
 * The backend in use, with why it was chosen: shown on hover (and as the title tooltip) and
 * toggled by a tap or a key press, for touch screens and keyboards.
 */
export function BackendBadge({ backend, reason }: { backend: string | null; reason: string }) {
  const [open, setOpen] = useState(false);
  return (
    <span className={`badge backend-badge${open ? ' open' : ''}`} title={reason || undefined}>
      <button type="button" aria-expanded={open} aria-describedby={reason ? 'backend-reason' : undefined} onClick={() => setOpen((o) => !o)} data-testid="backend">
        backend: {backend ?? '…'}
      </button>
      {reason && (
        <span id="backend-reason" role="tooltip" className="backend-reason" data-testid="backend-reason">
          {reason}
        </span>
      )}
    </span>
  );
}
