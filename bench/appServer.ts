import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { log } from './common.ts';

/** The built app and its signaling server in one process, as `npm start` runs them (builds dist/ first if missing). */
export async function startAppServer(port: number): Promise<ChildProcess> {
  if (!existsSync('dist/harness/training.html')) {
    log('building dist/ (vite build)');
    await new Promise<void>((resolve, reject) => {
      const b = spawn('npx', ['vite', 'build'], { stdio: 'ignore' });
      b.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vite build exited with ${code}`))));
    });
  }
  const server = spawn('node', ['--import', 'tsx', 'server/start.ts', '--port', String(port)], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://localhost:${port}/`)).ok) return server;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  server.kill();
  throw new Error('the app server did not start');
}
