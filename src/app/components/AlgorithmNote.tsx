import { protocolFor } from '../../protocols/index.ts';

/** What the room's algorithm does, in the words its module gives for students, and where it comes from. */
export function AlgorithmNote({ algo }: { algo: string }) {
  let ui;
  try {
    ui = protocolFor(algo).ui;
  } catch {
    return null;
  }
  return (
    <details className="card algorithm-note" data-testid="algorithm-note">
      <summary>
        What is <b>{ui.label}</b>?
      </summary>
      <p>{ui.explain}</p>
      <p className="muted small-text">From: {ui.paper}</p>
    </details>
  );
}
