import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
// One compute thread: the default starts a worker per core, each loading tfjs, which these tests of
// output and flags do not need (test/sim/threads.test.ts runs the CLI with 1 and 2 threads).
const cli = (args: string[]) => run('node', ['--import', 'tsx', 'src/sim/cli.ts', ...(args.includes('--threads') ? [] : ['--threads', '1']), ...args], { timeout: 120_000 });

const strip = (line: string) => {
  const o = JSON.parse(line) as Record<string, unknown>;
  delete o.wallMs;
  return o;
};

describe('simulator CLI', () => {
  it('prints identical JSON for two runs with one seed, apart from wall-clock fields', async () => {
    const args = ['--json', '--algo', 'fedavg', '--dataset', 'blobs', '--nodes', '6', '--fraction', '0.5', '--rounds', '4', '--seed', '3', '--loss', '0.1', '--churn', '0.3@2'];
    const [a, b] = await Promise.all([cli(args), cli(args)]);
    const la = a.stdout.trim().split('\n');
    const lb = b.stdout.trim().split('\n');
    expect(la.length).toBe(5);
    expect(la.map(strip)).toEqual(lb.map(strip));
    const rows = la.slice(0, -1).map(strip);
    for (const r of rows) expect(Object.keys(r)).toEqual(expect.arrayContaining(['round', 'accuracy', 'loss', 'bytesSent', 'simTimeMs']));
    const summary = strip(la.at(-1)!);
    expect(summary).toMatchObject({ summary: true, rounds: 4, rejected: {}, errors: {} });
    // Another seed is another experiment.
    const c = await cli(args.map((x) => (x === '3' ? '4' : x)));
    expect(c.stdout.trim().split('\n').map(strip)).not.toEqual(la.map(strip));
  });

  it('takes a shared URL hash with --config and stops at the target', async () => {
    const { stdout } = await cli(['--json', '--config', 'http://localhost:5173/#algo=fedavg&dataset=blobs&nodes=4&rounds=30&target=0.9&seed=2']);
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(summary.stopReason).toBe('target');
    expect(summary.roundsToTarget).toBeGreaterThan(0);
    expect(summary.roundsToTarget).toBeLessThan(30);
    expect(summary.bytesToTarget).toBeGreaterThan(0);
    expect(summary.simTimeToTarget).toBeGreaterThan(0);
  });

  it('answers bad flags with a clear message and exit code 2, never a stack trace', async () => {
    for (const args of [['--nodes', 'many'], ['--frobnicate', '1'], ['--partition', 'dirichlet'], ['--algo', 'sgd']]) {
      const err = await cli(args).then(
        () => null,
        (e: { code: number; stderr: string }) => e,
      );
      expect(err, args.join(' ')).not.toBeNull();
      expect(err!.code).toBe(2);
      expect(err!.stderr).toMatch(/^error: /);
      expect(err!.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('reports epsilon and delta with --dp rqm, and mergedAccuracy with --final merge', async () => {
    const a = (await cli(['--json', '--algo', 'fedavg', '--dp', 'rqm', '--dataset', 'blobs', '--nodes', '4', '--rounds', '2'])).stdout.trim().split('\n');
    const s = JSON.parse(a.at(-1)!) as Record<string, number>;
    expect(Number.isFinite(s.epsilon)).toBe(true);
    expect(s.delta).toBe(1e-5);
    const text = (await cli(['--algo', 'gossip', '--final', 'merge', '--dataset', 'blobs', '--nodes', '4', '--rounds', '2'])).stdout;
    expect(text).toMatch(/final merge: the average of the 4 final models scores [\d.]+% \(the models themselves: [\d.]+% on average\)/);
    const g = JSON.parse((await cli(['--json', '--algo', 'gossip', '--final', 'merge', '--dataset', 'blobs', '--nodes', '4', '--rounds', '2'])).stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    expect(g.mergedAccuracy).toBeGreaterThan(0);
    expect(g.localAccuracy).toBeGreaterThan(0);
  });

  it('reports secure aggregation with --secagg 1, and refuses it with --dp rqm', async () => {
    const text = (await cli(['--algo', 'fedavg', '--secagg', '1', '--dataset', 'blobs', '--nodes', '4', '--rounds', '2'])).stdout;
    expect(text).toMatch(/secure aggregation: 2 sums unmasked, 0 attempts aborted, masks of 0 dropped clients removed; 1262 B of keys and shares per client and round/);
    const err = await cli(['--algo', 'fedavg', '--secagg', '1', '--dp', 'rqm']).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err!.code).toBe(2);
    expect(err!.stderr).toMatch(/secagg cannot be 1 with RQM privacy/);
  });
});
