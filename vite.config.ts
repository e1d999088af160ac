import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { murmurationServer } from './server/vitePlugin.ts';

export default defineConfig({
  // murmurationServer mounts the signaling endpoint (/signal) on the same server as the app.
  plugins: [react(), murmurationServer()],
  // Training runs in module workers (they import tfjs and the protocols as ES modules).
  worker: { format: 'es' },
  build: {
    target: 'es2022',
    // The app, plus a harness page that runs the transport suite over real WebRTC (e2e only).
    rolldownOptions: { input: { main: 'index.html', transport: 'harness/transport.html' } },
  },
});
