import { computeWork } from '../../../core/learn/compute.ts';
import type { ComputeJob } from '../executor.ts';

/**
 * Splits one call's jobs over `workers` workers: every job of a node goes to one worker, in
 * the call's order (they may share optimizer state), and nodes are balanced by their planned
 * work (computeWork, in training samples). Largest node first, each to the least-loaded worker,
 * ties to the earlier node and the lower worker: the same jobs always give the same split.
 * Returns each worker's job indices, ascending.
 */
export function assignJobs(jobs: readonly ComputeJob[], workers: number): number[][] {
  const byNode = new Map<number, { first: number; work: number; jobs: number[] }>();
  jobs.forEach((job, i) => {
    let group = byNode.get(job.node);
    if (!group) byNode.set(job.node, (group = { first: i, work: 0, jobs: [] }));
    group.work += computeWork(job.request, job.shard.n);
    group.jobs.push(i);
  });
  const groups = [...byNode.values()].sort((a, b) => b.work - a.work || a.first - b.first);
  const load = new Array<number>(workers).fill(0);
  const shares: number[][] = Array.from({ length: workers }, () => []);
  for (const g of groups) {
    let w = 0;
    for (let k = 1; k < workers; k++) if (load[k] < load[w]) w = k;
    load[w] += g.work;
    shares[w].push(...g.jobs);
  }
  for (const s of shares) s.sort((a, b) => a - b);
  return shares;
}
