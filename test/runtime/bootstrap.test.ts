import { testModule } from '../support/module.ts';
import { describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../src/core/config.ts';
import type { ModelSpec } from '../../src/core/learn/models.ts';
import { initialParams } from '../../src/core/learn/models.ts';
import { Rng } from '../../src/core/rng.ts';
import type { Protocol, ProtocolContext, ProtocolModule } from '../../src/protocols/protocol.ts';
import { bootNode, createProtocol, nodeStreams, sharedInit, startingParams } from '../../src/runtime/bootstrap.ts';
import { InMemoryNetwork } from '../../src/sim/network.ts';
import { VirtualClock } from '../../src/sim/queue.ts';

const spec: ModelSpec = {
  name: 'mlp',
  features: 2,
  numClasses: 2,
  size: 10,
  tensors: [
    { name: 'k', shape: [2, 4], offset: 0, size: 8, kind: 'kernel' },
    { name: 'b', shape: [2], offset: 8, size: 2, kind: 'bias' },
  ],
};

/** A module that keeps the context each node was created with. */
function capture(): { module: ProtocolModule; made: ProtocolContext[] } {
  const made: ProtocolContext[] = [];
  const module: ProtocolModule = testModule({
    name: 'gossip',
    schemas: {},
    evaluates: 'nodes',
    create: (ctx) => {
      made.push(ctx);
      return { round: 0, handle: () => [], currentParams: () => ctx.initialParams } satisfies Protocol;
    },
  });
  return { module, made };
}

const config = (input: ConfigInput) => parseConfig({ seed: 7, ...input });

describe('node bootstrap', () => {
  it('gives every node the context from the seed and its id: rng streams, samples, peers without itself', () => {
    const { module, made } = capture();
    const c = config({ algo: 'fedavg' });
    createProtocol({ module, config: c, id: 'b', spec, samples: 42, maxSamples: 50, peers: ['a', 'b', 'c'] });
    const ctx = made[0];
    expect(ctx).toMatchObject({ id: 'b', samples: 42, maxSamples: 50, peers: ['a', 'c'], spec, config: c });
    expect(ctx.rng.key).toBe('seed:7/node/b/protocol');
    expect(nodeStreams(c, 'b').train.key).toBe('seed:7/node/b/train');
  });

  it('shared init: every node starts from the one init of the seed; independent: each from its own', () => {
    const shared = config({ algo: 'fedavg' });
    const init = sharedInit(shared, spec);
    expect(Array.from(init)).toEqual(Array.from(initialParams(spec, Rng.seed(7).split('init'))));
    for (const id of ['a', 'b']) expect(Array.from(startingParams(shared, spec, id))).toEqual(Array.from(init));
    // A caller that has the shared init already gets that very vector.
    expect(startingParams(shared, spec, 'a', init)).toBe(init);

    const own = config({ algo: 'gossip' }); // init=auto is independent for gossip
    const a = startingParams(own, spec, 'a', init);
    const b = startingParams(own, spec, 'b', init);
    expect(Array.from(a)).toEqual(Array.from(initialParams(spec, Rng.seed(7).split('init').split('a'))));
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(Array.from(startingParams(config({ algo: 'gossip', init: 'shared' }), spec, 'a'))).toEqual(Array.from(init));
  });

  it('boots a host around the protocol, handing the driver the node’s training stream', () => {
    const { module, made } = capture();
    const clock = new VirtualClock();
    const net = new InMemoryNetwork(clock, { latency: 1, bandwidth: 0, loss: 0 }, Rng.seed(1));
    let train: Rng | null = null;
    const host = bootNode({
      module,
      config: config({ algo: 'dpsgd' }),
      id: 'n3',
      spec,
      samples: 5,
      maxSamples: 5,
      peers: ['n1', 'n3'],
      clock,
      transport: net.attach('n3'),
      compute: (rng) => ((train = rng), { run: () => undefined }),
    });
    expect(host.id).toBe('n3');
    expect(host.running).toBe(true);
    expect(made[0].peers).toEqual(['n1']);
    expect(train!.key).toBe('seed:7/node/n3/train');
  });
});
