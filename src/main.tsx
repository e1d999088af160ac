import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ConfigError, parseHash, defaultConfig, type Config } from './core/config.ts';
import { LiveNode } from './live/liveNode.ts';
import { useLive } from './app/store.ts';
import { App } from './app/App.tsx';
import './app/styles.css';

declare global {
  interface Window {
    murmuration: {
      snapshot: () => ReturnType<LiveNode['snapshot']>;
      start: () => void;
      sendRaw: (to: string, bytes: Uint8Array) => void;
      node: LiveNode;
    };
  }
}

let config: Config;
let configError: string | null = null;
try {
  config = parseHash(location.hash);
} catch (e) {
  config = defaultConfig();
  configError = e instanceof ConfigError ? e.message : String(e);
}

const node = new LiveNode(config, { signalUrl: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signal`, dataUrl: '/data/mnist/' });
node.subscribe((s) => useLive.getState().set(s));
useLive.getState().set(node.snapshot());
window.murmuration = { snapshot: () => node.snapshot(), start: () => node.requestStart(), sendRaw: (to, bytes) => node.sendRaw(to, bytes), node };
if (!configError) void node.join();

// A new hash is a new experiment: start clean rather than patch a running node.
window.addEventListener('hashchange', () => location.reload());
window.addEventListener('pagehide', () => node.leave());

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App node={node} configError={configError} />
  </StrictMode>,
);
