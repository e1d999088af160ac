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
    // The app, plus harness pages for e2e and benchmarks (transport suite over real WebRTC, training throughput).
    rolldownOptions: { input: { main: 'index.html', transport: 'harness/transport.html', training: 'harness/training.html' } },
  },
});
