import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { now } from './common.ts';
import { parseRunOutput, type RunOutput } from './torch/runs.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export interface Timed {
  ms: number;
  out: RunOutput;
}

/** Spawns one whole process and times it from spawn to exit; its stdout must end with a summary line. */
export function timedRun(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t = now();
    const child = spawn(cmd, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = now() - t;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${stderr.trim().slice(-600)}`));
      try {
        resolve({ ms, out: parseRunOutput(stdout) });
      } catch (e) {
        reject(new Error(`${cmd}: ${(e as Error).message}; stderr: ${stderr.trim().slice(-600)}`));
      }
    });
  });
}
