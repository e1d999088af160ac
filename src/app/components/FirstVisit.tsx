import { useState } from 'react';

const SEEN_KEY = 'murmuration.aboutDismissed';

function dismissedBefore(): boolean {
  try {
    return localStorage.getItem(SEEN_KEY) === '1';
  } catch {
    return false; // storage blocked: show it, harmless
  }
}

/** The "what is this" panel's state: open on a first visit, closed for good once dismissed, reopened by "About". */
export function useAbout(): { open: boolean; toggle: () => void; dismiss: () => void } {
  const [open, setOpen] = useState(() => !dismissedBefore());
  const dismiss = () => {
    setOpen(false);
    try {
      localStorage.setItem(SEEN_KEY, '1');
    } catch {
      /* storage blocked: it shows again next time */
    }
  };
  return { open, toggle: () => (open ? dismiss() : setOpen(true)), dismiss };
}

/** A few plain sentences for a student who just opened the link. */
export function FirstVisit({ view, onClose }: { view: 'live' | 'compare'; onClose: () => void }) {
  return (
    <section id="first-visit" className="first-visit" aria-labelledby="first-visit-title" data-testid="first-visit">
      <h2 id="first-visit-title">What is this, and what do I do?</h2>
      {view === 'live' ? (
        <ul>
          <li>Murmuration trains a small AI model together, across browsers, without collecting anyone's data in one place.</li>
          <li>This tab is one learning node: it holds its own slice of the data and learns from it.</li>
          <li>You can add data of your own under "Your own data": click points onto the plane, or draw digits when the room uses MNIST. It never leaves this tab; only the model travels.</li>
          <li>Open the same link in several tabs, or on several phones and laptops (the share link and its QR code are in the setup panel).</li>
          <li>When enough nodes have joined, press Start, or wait: the room may start by itself.</li>
          <li>Then watch the accuracy chart rise as the nodes share what they learned.</li>
        </ul>
      ) : (
        <ul>
          <li>This view simulates several learning algorithms side by side, all in this one tab.</li>
          <li>Pick up to four algorithms in the setup panel, press Apply, then Play, and watch whose accuracy rises fastest.</li>
          <li>To learn together with real tabs and devices instead, switch to "Live tabs".</li>
        </ul>
      )}
      <button type="button" className="primary" onClick={onClose} data-testid="first-visit-close">
        Got it
      </button>
    </section>
  );
}
