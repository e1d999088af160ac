import { describe, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';
import { conformanceCases, type TransportWorld } from '../../src/runtime/transportConformance.ts';
import { InMemoryNetwork } from '../../src/sim/network.ts';
import { VirtualClock } from '../../src/sim/queue.ts';

/** The in-memory network, with latency and a bandwidth limit so frames really queue. */
function inMemoryWorld(): TransportWorld {
  const clock = new VirtualClock();
  const net = new InMemoryNetwork(clock, { latency: 25, bandwidth: 5e6, loss: 0 }, Rng.seed(1));
  return {
    transports: [net.attach('a'), net.attach('b'), net.attach('c')],
    async settle(done, timeoutMs) {
      const until = clock.now() + timeoutMs;
      while (!done()) if (!clock.step(until)) return done();
      return true;
    },
    dispose() {},
  };
}

describe('transport conformance: in-memory network', () => {
  for (const c of conformanceCases) {
    it(c.name, async () => {
      const world = inMemoryWorld();
      try {
        await c.run(world);
      } finally {
        world.dispose();
      }
    });
  }
});
