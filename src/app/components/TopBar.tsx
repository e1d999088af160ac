import type { ReactNode } from 'react';
import { FirstVisit, useAbout } from './FirstVisit.tsx';

/** Title, the two views, status badges, and "About" with its first-visit panel below the bar. */
export function TopBar({ view, liveHref, compareHref, children }: { view: 'live' | 'compare'; liveHref: string; compareHref: string; children?: ReactNode }) {
  const about = useAbout();
  return (
    <>
      <header className="topbar">
        <h1>
          <span className="logo" aria-hidden>
            ◦•◦
          </span>{' '}
          Murmuration
        </h1>
        <nav aria-label="views" className="views">
          <a href={liveHref} aria-current={view === 'live' ? 'page' : undefined} data-testid="nav-live" title="This tab is one learning node; other tabs in the room are the others">
            Live tabs
          </a>
          <a href={compareHref} aria-current={view === 'compare' ? 'page' : undefined} data-testid="nav-compare" title="Up to four algorithms side by side, simulated in this tab">
            Compare (simulated)
          </a>
        </nav>
        <span className="spacer" />
        {children}
        <button type="button" className="about-button" aria-expanded={about.open} aria-controls="first-visit" onClick={about.toggle} data-testid="about" title="What is this, and what do I do?">
          ? About
        </button>
      </header>
      {about.open && <FirstVisit view={view} onClose={about.dismiss} />}
    </>
  );
}
