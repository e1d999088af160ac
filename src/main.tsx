import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { describeErrors, hashToInput, KEY_NAMES, parseConfigByKey, type Config } from './core/config.ts';
import { LiveNode } from './live/liveNode.ts';
import { useLive, useUi } from './app/store.ts';
import { useLinkState } from './app/linkState.ts';
import { App } from './app/App.tsx';
import { CompareApp } from './app/compare/CompareApp.tsx';
import { ProjectorApp } from './app/projector/ProjectorApp.tsx';
import { DEFAULT_RUNS } from './app/lib/presets.ts';
import './app/styles.css';

declare global {
  interface Window {
    /** Live view only (the compare view has `window.murmurationCompare`). */
    murmuration: {
      snapshot: () => ReturnType<LiveNode['snapshot']>;
      start: () => void;
      reset: () => void;
      sendRaw: (to: string, bytes: Uint8Array) => void;
      /** The student's own samples for this tab's next start (see LiveNode.setOwnData). */
      setOwnData: LiveNode['setOwnData'];
      node: LiveNode;
    };
  }
}

/*
 * Routing. The hash is the experiment's config and nothing else (the CLI's --config takes
 * the same string). UI-only keys live in the query: `/?view=compare&runs=fedavg,modest#…`
 * opens the compare view; no query is the live view, where this tab is one node.
 */
const query = new URLSearchParams(location.search);
const view = query.get('view') === 'compare' ? 'compare' : query.get('view') === 'projector' ? 'projector' : 'live';

// A bad value costs only its own key: the room and every good value stay, the bad keys get
// their defaults and are marked in the setup form. Such a tab does not join until fixed.
const linkInput = hashToInput(location.hash) as Record<string, string>;
const { config, errors: linkErrors } = parseConfigByKey(linkInput);
const configError: string | null = Object.keys(linkErrors).length
  ? describeErrors(linkErrors, linkInput, (k) => KEY_NAMES[k as keyof Config] ?? k).join('\n')
  : null;
useLinkState.getState().set(linkInput, linkErrors);
useUi.getState().initHidden(config.hide);

// A new hash is a new experiment: start clean rather than patch a running node or simulation.
window.addEventListener('hashchange', () => location.reload());

const root = createRoot(document.getElementById('root')!);
if (view === 'compare') {
  const runs = (query.get('runs') ?? DEFAULT_RUNS.join(',')).split(',').filter(Boolean);
  root.render(
    <StrictMode>
      <CompareApp base={config} runIds={runs} configError={configError} />
    </StrictMode>,
  );
} else if (view === 'projector') {
  // The projector takes the owner key the same way as a tab (and keeps it out of the address bar).
  const ownerKey = takeOwnerKey() ?? safeLocalStorage()?.getItem(`murmuration.ownerKey.${config.room}`) ?? undefined;
  root.render(
    <StrictMode>
      <ProjectorApp base={config} raceRoom={query.get('race')} ownerKey={ownerKey} signalUrl={`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signal`} />
    </StrictMode>,
  );
} else {
  // A teacher link carries the room's owner key in the query (`?owner=`). Keep it in this browser
  // (LiveNode stores it per room) and take it out of the address bar, so copying the address
  // never hands owner rights to students.
  const ownerKey = takeOwnerKey();
  const node = new LiveNode(config, {
    signalUrl: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signal`,
    dataUrl: '/data/mnist/',
    ownerKey,
    keyStore: safeLocalStorage(),
  });
  node.subscribe((s) => useLive.getState().set(s));
  useLive.getState().set(node.snapshot());
  window.murmuration = { snapshot: () => node.snapshot(), start: () => node.requestStart(), reset: () => node.requestReset(), sendRaw: (to, bytes) => node.sendRaw(to, bytes), setOwnData: (data, mode) => node.setOwnData(data, mode), node };
  if (!configError) void node.join();
  window.addEventListener('pagehide', () => node.leave());
  root.render(
    <StrictMode>
      <App node={node} configError={configError} />
    </StrictMode>,
  );
}

/** localStorage, or nothing where the browser refuses it (private modes, sandboxed frames). */
function safeLocalStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

/** The owner key of a teacher link (`?owner=`), taken out of the address bar so copying the address never hands it on. */
function takeOwnerKey(): string | undefined {
  const ownerKey = query.get('owner') ?? undefined;
  if (ownerKey) {
    query.delete('owner');
    const rest = query.toString();
    history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
  }
  return ownerKey;
}
