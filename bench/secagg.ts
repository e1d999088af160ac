import { parseConfig, type ConfigInput } from '../src/core/config.ts';
import { secaggExtraBytes } from '../src/protocols/secagg/keys.ts';
import { createNodeSimulation } from '../src/sim/nodeRunner.ts';
import { fmt, loadNote, log, now, table, type BenchOptions, type Suite } from './common.ts';

/**
 * Secure aggregation (secagg=1) against plain FedAvg: bytes and wall time per round, for 10 and
 * 20 clients (C = 1), on the 371-parameter mlp and the 199,210-parameter 2NN. Same data, seed and
 * training; only the aggregation differs. Bytes count every encoded frame (headers included); the
 * per-kind breakdown reads each frame's type from its header. Wall time is the whole simulated
 * round on one process: training, masking (ChaCha20 over d + 1 words per peer), ECDH (node:crypto)
 * and unmasking; the simulator charges no virtual time for the cryptography.
 */

interface World {
  label: string;
  base: ConfigInput;
  quick: ConfigInput;
}

const WORLDS: World[] = [
  { label: 'blobs, mlp (371 parameters)', base: { dataset: 'blobs', model: 'mlp', rounds: 5 }, quick: { rounds: 2 } },
  { label: 'MNIST, 2NN (199,210 parameters), 10 local steps of batch 10', base: { dataset: 'mnist', model: '2nn', rounds: 3, steps: 10, batch: 10, evalSize: 500 }, quick: { rounds: 1, evalSize: 100 } },
];

/** Message kinds as the table groups them. */
const KINDS: Record<string, string> = {
  'secagg/keys': 'keys',
  'secagg/roster': 'keys',
  'secagg/shares': 'shares',
  'secagg/deal': 'shares',
  'secagg/masked': 'update',
  'fedavg/update': 'update',
  'secagg/unmask': 'unmask',
  'secagg/reveal': 'unmask',
};
/** Compact frame ids (secagg/messages.ts). */
const COMPACT: Record<number, string> = { 1: 'secagg/keys', 2: 'secagg/reveal' };

/** The message type of an encoded frame, from its header only (codec.ts's layout). */
function frameType(frame: Uint8Array): string {
  if (frame[2] & 0x80) return COMPACT[frame[3]] ?? '?';
  const len = new DataView(frame.buffer, frame.byteOffset).getUint32(4, true);
  return (JSON.parse(new TextDecoder().decode(frame.subarray(8, 8 + len))) as { type: string }).type;
}

interface Measured {
  bytesPerRound: number;
  msPerRound: number;
  accuracy: number;
  byKind: Record<string, number>;
}

async function measure(input: ConfigInput, byKind: boolean): Promise<Measured> {
  const config = parseConfig(input);
  const kinds: Record<string, number> = {};
  const { sim, dispose } = await createNodeSimulation(
    config,
    byKind
      ? {
          tamper: (_from, to, frame) => {
            const kind = KINDS[frameType(frame)] ?? 'other';
            kinds[kind] = (kinds[kind] ?? 0) + frame.length;
            return [{ to, frame }];
          },
        }
      : {},
  );
  const t0 = now();
  let summary;
  try {
    summary = sim.run();
  } finally {
    dispose();
  }
  const rounds = summary.rounds;
  return { bytesPerRound: summary.bytesSent / rounds, msPerRound: (now() - t0) / rounds, accuracy: summary.accuracy, byKind: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, v / rounds])) };
}

export const secaggBench: Suite = {
  name: 'secagg',
  summary: 'Secure aggregation (secagg=1) vs plain FedAvg: bytes and wall time per round for 10 and 20 clients, mlp and 2NN',
  async run(opts: BenchOptions): Promise<string> {
    const out: string[] = ['## Secure aggregation against plain FedAvg (suite `secagg`)', ''];
    for (const world of WORLDS) {
      // Untimed: the first run of a world loads its data and compiles tfjs's kernels.
      await measure({ algo: 'fedavg', nodes: 4, seed: opts.seed, ...world.base, rounds: 1, secagg: 1 }, false);
      const rows: string[][] = [];
      for (const nodes of [10, 20]) {
        const input: ConfigInput = { algo: 'fedavg', fraction: 1, nodes, partition: 'iid', seed: opts.seed, evalEvery: 1000, ...world.base, ...(opts.quick ? world.quick : {}) };
        // Interleaved, so load on the machine hits both sides alike: plain, secure, secure, plain; wall time is the mean of the two.
        const plainA = await measure(input, false);
        const secureA = await measure({ ...input, secagg: 1 }, false);
        const secureB = await measure({ ...input, secagg: 1 }, false);
        const plainB = await measure(input, false);
        const kinds = await measure({ ...input, secagg: 1, rounds: 1 }, true);
        const plainKinds = await measure({ ...input, rounds: 1 }, true);
        const plainMs = (plainA.msPerRound + plainB.msPerRound) / 2;
        const secureMs = (secureA.msPerRound + secureB.msPerRound) / 2;
        log(`secagg ${world.label}, ${nodes} clients: ${fmt.int(plainA.bytesPerRound)} → ${fmt.int(secureA.bytesPerRound)} B/round, ${fmt.int(plainMs)} → ${fmt.int(secureMs)} ms/round`);
        const k = (name: string) => fmt.int(kinds.byKind[name] ?? 0);
        rows.push([
          String(nodes),
          fmt.int(plainA.bytesPerRound),
          fmt.int(secureA.bytesPerRound),
          fmt.f(secureA.bytesPerRound / plainA.bytesPerRound, 3),
          k('keys'),
          k('shares'),
          `${k('update')} (${fmt.int(plainKinds.byKind.update ?? 0)})`,
          k('unmask'),
          fmt.int(secaggExtraBytes(nodes) * (nodes - 1)),
          fmt.int(plainMs),
          fmt.int(secureMs),
          fmt.f(secureMs / plainMs, 2),
          `${fmt.pct(plainA.accuracy)} / ${fmt.pct(secureA.accuracy)}`,
        ]);
      }
      out.push(
        `### ${world.label}, iid, FedAvg C = 1, seed ${opts.seed}`,
        '',
        table(
          ['clients', 'plain B/round', 'secagg B/round', 'ratio', 'keys + roster', 'shares + deals', 'masked updates (plain updates)', 'unmask + reveal', 'predicted extra (payloads)', 'plain ms/round', 'secagg ms/round', 'time ratio', 'final accuracy plain / secagg'],
          rows,
        ),
        '',
      );
    }
    out.push(
      'Bytes per round are every frame of a round, downlink (the coordinator’s model to each client, the same in both) included; the kinds are secagg frames only, and the coordinator’s own messages to itself never touch the wire. "Predicted extra" is `secaggExtraBytes(m)` × (m − 1) remote clients, the payload formula the setup panel shows.',
      '',
      `Measured at ${loadNote()}.`,
    );
    return out.join('\n');
  },
};
